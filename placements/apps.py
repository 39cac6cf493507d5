from django.apps import AppConfig


class PlacementsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "placements"
    verbose_name = "placement requests"

    def ready(self) -> None:
        from placements import receivers  # noqa: F401 - connects the signal receivers
