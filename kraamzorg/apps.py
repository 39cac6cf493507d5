from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KraamzorgConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kraamzorg"
    verbose_name = _("Kraamzorg")
