from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared kernel: base model, errors, the exception queue, encrypted fields, HTTP helpers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "config.common"
    label = "common"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from config.common import admin_audit, alerts, checks, outbound, schema  # noqa: F401  (handlers, checks, schema, audit)
        from config.common.roles import roles_sync

        post_migrate.connect(roles_sync, dispatch_uid="ledgerline-roles")
