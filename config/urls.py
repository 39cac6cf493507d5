"""Root URLs: every path is unchanged by the move into apps (bookmarks, the API, wall-screen links)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import set_language

from api import stream as api_stream
from api.v1 import urlpatterns as api_urlpatterns
from capacity import views as capacity_views
from config import metrics
from core import views as core_views

# Lazy: the admin speaks the active language (Dutch by default, its own language switch in
# templates/admin/base_site.html).
admin.site.site_header = _("Birth-care capacity – administration")
admin.site.site_title = _("Birth-care capacity administration")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", capacity_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    # Prometheus, per process; a bearer token, never a session (config/metrics.py).
    path("metrics", metrics.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switch works on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    # Server-Sent Events: an async view beside the ninja API (streams for as long as the client reads).
    path("api/v1/events/", api_stream.events, name="api_events"),
    path("api/v1/", api_urlpatterns()),
    path("", include("capacity.urls")),
    path("", include("kraamzorg.urls")),
    path("", include("search.urls")),
    path("", include("api.urls")),
    path("", include("hospitals.urls")),
    path("", include("refusals.urls")),
    path("", include("placements.urls")),
    path("", include("placements.stats_urls")),
]
