from django.apps import AppConfig


class MappingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mappings"
    verbose_name = "Mappings"
