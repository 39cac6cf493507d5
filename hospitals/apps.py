from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HospitalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hospitals"
    verbose_name = _("Organisations and accounts")

    def ready(self) -> None:
        # Logins, failed logins, lockouts and logouts go to the access log (hospitals/receivers.py).
        from hospitals import receivers

        receivers.connect()
