from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Shared base pieces: no models of its own, imports nothing of the project."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = _("Core")
