"""Push to coordinators' open pages: new figures on the statistics page, alert banners.

Few coordinators are connected (tens, not the thousands of boards), so the stock Channels
design is enough here: one channel-layer group per region and per purpose, joined by the
sockets of refusals/consumers.py. The board's own fan-out (capacity/live.py) is separate.

Everything here runs after commit (in the Celery worker, or in-process in embedded mode)
and never raises: the data is saved; a page that missed a push catches up on reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core.push import group_send
from hospitals.models import Region
from kraamzorg.regional import regions_covered_by
from refusals.models import Alert

logger = logging.getLogger(__name__)


def stats_group(region_id: int) -> str:
    return f"refusal-stats-{region_id}"


def alerts_group(region_id: int) -> str:
    return f"refusal-alerts-{region_id}"


def statistics_changed(region_ids: Iterable[int] | None) -> None:
    """Tell the statistics pages of these regions (None: every region) to fetch their figures again."""
    ids = list(region_ids) if region_ids is not None else list(Region.objects.values_list("id", flat=True))
    for region_id in sorted(ids):
        group_send(stats_group(region_id), {"type": "statistics.changed", "region_id": region_id})


# Regions collected while a batch runs (the sweep): one nudge per region at the end, not one per refusal.
_batch: ContextVar[set[int] | None] = ContextVar("refusals_statistics_batch", default=None)


@contextmanager
def one_push_per_region() -> Iterator[None]:
    regions: set[int] = set()
    token = _batch.set(regions)
    try:
        yield
    finally:
        _batch.reset(token)
        if regions:
            statistics_changed(regions)


def on_rollups_changed(sender: object, region_ids: set[int] | None = None, **_kwargs: object) -> None:
    """Receiver of ``aggregation.rollups_changed``: the push comes after aggregation, not registration."""
    batch = _batch.get()
    if batch is not None and region_ids is not None:
        batch.update(region_ids)
        return
    statistics_changed(region_ids)


# --- The region's kraamzorg page (docs/kraamzorg.md, "Live") ----------------------------------


def kraamzorg_stats_group(region_id: int) -> str:
    return f"kraamzorg-stats-{region_id}"


def kraamzorg_statistics_changed(region_ids: Iterable[int] | None) -> None:
    """Tell the kraamzorg pages of these regions (None: every region) to fetch their figures again."""
    ids = list(region_ids) if region_ids is not None else list(Region.objects.values_list("id", flat=True))
    for region_id in sorted(ids):
        group_send(kraamzorg_stats_group(region_id), {"type": "kraamzorg.statistics.changed", "region_id": region_id})


def on_kraamzorg_rollups_changed(sender: object, region_ids: set[int] | None = None, **_kwargs: object) -> None:
    """Receiver of ``kraamzorg.signals.rollups_changed``: shortages counted (or uncounted) in the rollup."""
    kraamzorg_statistics_changed(region_ids)


def on_intake_changed(sender: object, *, organisation_id: int, **_kwargs: object) -> None:
    """Receiver of ``kraamzorg.signals.intake_changed`` (after commit): the coverage map of every region
    the organisation's work areas count in. Never raises: the planner's change is saved."""
    try:
        regions = regions_covered_by(organisation_id)
    except Exception:
        logger.warning("finding the regions of organisation %s's coverage failed", organisation_id, exc_info=True)
        return
    kraamzorg_statistics_changed(regions)


# --- Alert banners -------------------------------------------------------------------------


def banner_alerts(region_id: int, *, now: datetime | None = None) -> list[Any]:
    """The alerts a region's banner shows: not yet acknowledged, raised recently."""
    now = now or timezone.now()
    return list(
        Alert.objects.filter(
            region_id=region_id, acknowledged_at__isnull=True, raised_at__gte=now - settings.REFUSAL_ALERT_BANNER
        ).select_related("location", "region")
    )


def render_banner(region_id: int, *, oob: bool, alerts: list[Any] | None = None) -> str:
    alerts = banner_alerts(region_id) if alerts is None else alerts
    return render_to_string("refusals/_alert_region.html", {"region_id": region_id, "alerts": alerts, "oob": oob})


def alerts_changed(region_id: int) -> None:
    """Push the region's whole banner (a full snapshot, never a delta) to its coordinators' pages."""
    try:
        alerts = banner_alerts(region_id)
        frames: dict[str, str] = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                frames[code] = render_banner(region_id, oob=True, alerts=alerts)
    except Exception:
        logger.exception("rendering the alert banner of region %s failed", region_id)
        return
    group_send(alerts_group(region_id), {"type": "alerts.changed", "frames": frames})
