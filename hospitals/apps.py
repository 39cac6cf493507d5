from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HospitalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hospitals"
    verbose_name = _("Organisations and accounts")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from hospitals import receivers
        from hospitals.models import Region
        from hospitals.selectors import region_codes

        # Logins, failed logins, lockouts and logouts go to the access log (hospitals/receivers.py).
        receivers.connect()
        # The websockets' region-code lookup forgets what it read when a region changes (hospitals/selectors.py).
        post_save.connect(region_codes.clear, sender=Region, dispatch_uid="hospitals.region_codes.save")
        post_delete.connect(region_codes.clear, sender=Region, dispatch_uid="hospitals.region_codes.delete")
