from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HospitalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hospitals"
    verbose_name = _("Organisations and accounts")
