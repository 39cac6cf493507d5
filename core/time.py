"""The one time zone the product speaks: days, hours and quarters are Dutch local time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings

# settings.TIME_ZONE is Europe/Amsterdam (config/settings.py); Celery's clock follows it too.
ZONE = ZoneInfo(settings.TIME_ZONE)
