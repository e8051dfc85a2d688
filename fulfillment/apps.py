from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfillment"
    verbose_name = "Fulfilment and ERP"

    def ready(self) -> None:
        from fulfillment import selectors, services  # noqa: F401  (registers outbound handlers and reprocessors)
