from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared kernel: base model, errors, the exception queue, encrypted fields, HTTP helpers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "config.common"
    label = "common"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_migrate

        from config.common import admin_audit, alerts, outbound, schema  # noqa: F401  (handlers, schema, audit)
        from config.common import checks as deploy_checks  # noqa: F401  (registers the deploy checks)
        from config.common.access import check_declarations
        from config.common.roles import roles_sync
        from config.common.workers import heartbeat_connect

        # Every URL and admin action names an operation of the access policy, which agrees with the roles.
        checks.register(check_declarations, "security")

        post_migrate.connect(roles_sync, dispatch_uid="ledgerline-roles")
        heartbeat_connect()  # the clusters' monitors record each acknowledged task (worker health)
