from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"

    def ready(self) -> None:
        from api.schemas import location_event_frame
        from capacity import live

        # Every pushed location row also goes out as the API's JSON event (api/stream.py).
        live.register_frame_renderer(live.JSON_FRAME, location_event_frame)
