"""The assembled API (/api/v1/): the shared parts (api/base.py) plus every resource's router.

The routers import what they share from ``api.base``, never from here, so that any of
them can be imported on its own.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver

from api.base import api
from api.exports.routes import router as exports_router
from api.intake import router as intake_router
from api.locations import router as locations_router
from api.placements import router as placements_router
from api.search import router as search_router
from api.statistics import router as statistics_router
from api.units import router as units_router

api.add_router("/", locations_router)
api.add_router("/", units_router)
api.add_router("/", statistics_router)
api.add_router("/", search_router)
api.add_router("/", placements_router)
api.add_router("/", intake_router)
api.add_router("/exports/", exports_router)

__all__ = ["api", "urlpatterns"]


def urlpatterns() -> tuple[list[URLPattern | URLResolver], str, str]:
    """The API's URL patterns, exempt from the login redirect: tokens authenticate them."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        assert isinstance(pattern, URLPattern)  # ninja's routes are plain paths, no nested include()
        login_not_required(pattern.callback)
    return patterns, app_name, namespace
