from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KraamzorgConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kraamzorg"
    verbose_name = _("Kraamzorg")

    def ready(self) -> None:
        from kraamzorg import tasks
        from kraamzorg.signals import shortage_changed

        # A shortage registered or withdrawn: Celery counts it in the rollup (docs/kraamzorg.md).
        shortage_changed.connect(tasks.on_shortage_changed, dispatch_uid="kraamzorg-aggregate-shortage")
