"""Coordinators' websockets: statistics pushed after aggregation, alert banners.

Push only; writes travel over normal POSTs. The gates below decide who may listen before the
consumer exists (core/group_socket.py): 4401 not logged in, 4403 not allowed, 4404 unknown
region. Open sockets close when their user's access or session ends (core/revocation.py).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from core.group_socket import GroupConsumer
from core.revocation import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from hospitals.models import Region
from refusals import live
from refusals.selectors import statistics_region_ids

CLOSE_NOT_FOUND = 4404


def _statistics_verdict(user: Any, region_code: str) -> int | list[int]:
    if not getattr(user, "is_authenticated", False):
        return CLOSE_UNAUTHENTICATED
    allowed = statistics_region_ids(user)
    if not allowed:
        return CLOSE_FORBIDDEN  # decided before looking the region up: others learn nothing
    region_id = Region.objects.filter(code=region_code).values_list("id", flat=True).first()
    if region_id is None:
        return CLOSE_NOT_FOUND
    return [region_id] if region_id in allowed else CLOSE_FORBIDDEN


async def statistics_gate(scope: Any) -> int | list[int]:
    code = scope["url_route"]["kwargs"]["region_code"]
    return await database_sync_to_async(_statistics_verdict)(scope.get("user"), code)


async def alerts_gate(scope: Any) -> int | list[int]:
    if not getattr(scope.get("user"), "is_authenticated", False):
        return CLOSE_UNAUTHENTICATED
    regions = await database_sync_to_async(statistics_region_ids)(scope.get("user"))
    return regions or CLOSE_FORBIDDEN


class StatisticsConsumer(GroupConsumer):
    """/ws/statistics/<region>/: a nudge after each aggregation; the page re-fetches its figures."""

    def group_names(self, region_ids: list[int]) -> list[str]:
        return [live.stats_group(i) for i in region_ids]

    async def statistics_changed(self, event: dict[str, Any]) -> None:
        # An out-of-band element the page listens for (static/js/stats.js); it carries no figures,
        # so the page re-fetches exactly the view (period, filters) the coordinator has open.
        region_id = int(event["region_id"])
        frame = f'<span id="stats-pushed" hx-swap-oob="true" hidden data-region="{region_id}"></span>'
        await self.send(text_data=frame)


class KraamzorgStatisticsConsumer(GroupConsumer):
    """/ws/statistics/<region>/kraamzorg/: a nudge when the region's shortages or coverage changed.

    The same people as the page (``statistics_gate``); the same nudge as the refusal statistics, so
    static/js/stats.js re-fetches the figures (period, municipality) the coordinator has open.
    """

    def group_names(self, region_ids: list[int]) -> list[str]:
        return [live.kraamzorg_stats_group(i) for i in region_ids]

    async def kraamzorg_statistics_changed(self, event: dict[str, Any]) -> None:
        region_id = int(event["region_id"])
        frame = f'<span id="stats-pushed" hx-swap-oob="true" hidden data-region="{region_id}"></span>'
        await self.send(text_data=frame)


class AlertsConsumer(GroupConsumer):
    """/ws/alerts/: the alert banners of the regions a coordinator (or national admin) sees."""

    def group_names(self, region_ids: list[int]) -> list[str]:
        return [live.alerts_group(i) for i in region_ids]

    async def on_open(self) -> None:
        # A full snapshot on every (re)connect: whatever was pushed while away is not lost.
        for region_id in self.scope["allowed_ids"]:
            await self.send(text_data=await database_sync_to_async(self._render)(region_id))

    def _render(self, region_id: int) -> str:
        from django.utils import translation

        with translation.override(self.lang):
            return live.render_banner(region_id, oob=True)

    async def alerts_changed(self, event: dict[str, Any]) -> None:
        frames: dict[str, str] = event["frames"]
        await self.send(text_data=frames.get(self.lang) or frames[settings.LANGUAGE_CODE])
