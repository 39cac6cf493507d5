from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CapacityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "capacity"
    verbose_name = _("Capacity")

    def ready(self) -> None:
        from capacity import live, revocation
        from hospitals.signals import location_changed

        # A location's phone number (or anything else it shows) changed: every board follows.
        location_changed.connect(live.on_location_changed, dispatch_uid="capacity-push-location")
        # Revoked links, tokens, users and sessions: their open sockets close in every process.
        revocation.connect()
