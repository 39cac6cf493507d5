from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        from kraamzorg.signals import intake_changed
        from search.live import on_intake_changed

        intake_changed.connect(on_intake_changed, dispatch_uid="search-kraamzorg-live")
