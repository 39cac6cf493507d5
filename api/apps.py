from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = _("API")

    def ready(self) -> None:
        from api.receivers import publish_request
        from api.schemas import location_event_frame
        from capacity import live
        from placements.signals import request_changed

        # Every pushed location row also goes out as the API's JSON event (api/stream.py).
        live.register_frame_renderer(live.JSON_FRAME, location_event_frame)
        # Every change of a placement request goes to the streams of the asked organisation's systems.
        request_changed.connect(publish_request, dispatch_uid="api.receivers.publish_request")
