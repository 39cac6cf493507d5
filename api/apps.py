from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = _("API")

    def ready(self) -> None:
        from api.schemas import location_event_frame
        from capacity import live

        # Every pushed location row also goes out as the API's JSON event (api/stream.py).
        live.register_frame_renderer(live.JSON_FRAME, location_event_frame)
