from typing import Any

from django.apps import AppConfig
from django.core import checks


def check_ledger_period(**kwargs: Any) -> list[checks.CheckMessage]:
    """An unknown LEDGER_PERIOD would only show when the first journal is built: refuse it at start-up."""
    from django.conf import settings

    from reconciliation.services.periods import MONTHS

    if str(settings.LEDGER_PERIOD).lower() in MONTHS:
        return []
    return [
        checks.Error(
            f"LEDGER_PERIOD is {settings.LEDGER_PERIOD!r}.",
            hint=f"Set it to one of {', '.join(sorted(MONTHS))} (calendar months by default).",
            id="ledgerline.R001",
        )
    ]


class ReconciliationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reconciliation"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        from reconciliation import services  # noqa: F401  (registers reprocessors)
        from reconciliation.services import completeness  # noqa: F401  (the order report check's reprocessor)

        checks.register(check_ledger_period)
