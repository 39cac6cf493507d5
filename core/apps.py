from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared base pieces: no models of its own, imports nothing of the project."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
