from django.apps import AppConfig


class RefusalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refusals"
