from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RefusalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refusals"
    verbose_name = _("Refusals")

    def ready(self) -> None:
        from refusals import aggregation, live, tasks  # noqa: F401 - tasks: registered for the embedded beat

        # New figures reach open statistics pages once they are aggregated (docs/refusals.md).
        aggregation.rollups_changed.connect(live.on_rollups_changed, dispatch_uid="refusals-statistics-push")
        # The region's kraamzorg page: shortages once aggregated, coverage once a grid changed.
        from kraamzorg import signals as kz

        kz.rollups_changed.connect(live.on_kraamzorg_rollups_changed, dispatch_uid="kraamzorg-stats-push")
        kz.intake_changed.connect(live.on_intake_changed, dispatch_uid="kraamzorg-coverage-push")
