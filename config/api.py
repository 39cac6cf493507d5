"""The assembled API: the shared parts (config/api_base.py) plus every app's router.

The routers import what they share from ``config.api_base``, never from here, so that
any of them can be imported first (a Celery worker rendering a live-push event loads
``hospitals.api`` without ever loading the URLs).
"""

from __future__ import annotations

from typing import Any

from capacity.api import router as capacity_router
from capacity.exports.api import router as exports_router
from capacity.search_api import router as search_router
from config.api_base import api
from hospitals.api import router as hospitals_router
from refusals.api import router as refusals_router

api.add_router("/", hospitals_router)
api.add_router("/", capacity_router)
api.add_router("/", refusals_router)
api.add_router("/", search_router)
api.add_router("/exports/", exports_router)

__all__ = ["api", "urlpatterns"]


def urlpatterns() -> tuple[list[Any], str, str]:
    """The API's URL patterns, exempt from the login redirect: tokens authenticate them."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False  # type: ignore[union-attr]
    return patterns, app_name, namespace
