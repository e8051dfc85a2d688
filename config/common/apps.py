from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared kernel: base model, errors, the exception queue, encrypted fields, HTTP helpers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "config.common"
    label = "common"
    verbose_name = "Operations"

    def ready(self) -> None:
        from config.common import outbound, schema  # noqa: F401  (registers the outbound reprocessor, API schema)
