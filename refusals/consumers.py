"""Coordinators' websockets: statistics pushed after aggregation, alert banners.

Push only; writes travel over normal POSTs. Permission is checked before the consumer
(and its channel-layer channel) exists: a refused socket never touches Redis, like the
board's origin check (core/websocket.py). A refusal is accepted and then closed, so the page
sees the code: 4401 not logged in, 4403 not allowed, 4404 unknown region. Open sockets close
when their user's access or session ends (core/revocation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from core.revocation import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, RevocableConsumer, scope_principals
from core.websocket import refuse
from hospitals.models import Region
from refusals import live
from refusals.selectors import statistics_region_ids

CLOSE_NOT_FOUND = 4404
# channels-redis forgets group members after a day (group_expiry); a page left open on a
# coordinator's second screen re-joins well before that (docs/refusals.md).
REJOIN_SECONDS = 6 * 3600


def _lang(scope: Any) -> str:
    requested = (parse_qs(scope.get("query_string", b"").decode()).get("lang") or [""])[0]
    return requested if requested in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


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


def guarded(consumer: type[_GroupConsumer], gate: Callable[[Any], Awaitable[int | list[int]]]) -> Any:
    """The consumer for those the gate lets in (with their region ids), a bare refusal for everyone else."""
    allowed = consumer.as_asgi()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        verdict = await gate(scope)
        if isinstance(verdict, int):
            return await refuse(scope, receive, send, code=verdict)
        return await allowed({**scope, "refusals_region_ids": verdict}, receive, send)

    return app


class _GroupConsumer(RevocableConsumer):
    """Joins one channel-layer group per region the user may see; re-joins before they expire."""

    lang: str = settings.LANGUAGE_CODE
    joined: list[str]
    _rejoin: asyncio.Task[None] | None = None

    def group_names(self, region_ids: list[int]) -> list[str]:
        raise NotImplementedError

    async def connect(self) -> None:
        live.remember_loop()
        self.lang = _lang(self.scope)
        self.joined = self.group_names(self.scope["refusals_region_ids"])
        await self._join()
        await self.accept()
        self._rejoin = asyncio.get_running_loop().create_task(self._keep_joined())
        await self.watch(scope_principals(self.scope))
        if not self.revoked:
            await self.on_open()

    async def on_open(self) -> None:
        return

    async def _join(self) -> None:
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _keep_joined(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            with contextlib.suppress(Exception):
                await self._join()

    def on_revoked(self) -> None:
        if self._rejoin is not None:
            self._rejoin.cancel()

    async def disconnect(self, code: int) -> None:
        if self._rejoin is not None:
            self._rejoin.cancel()
        for group in getattr(self, "joined", []):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # push only


class StatisticsConsumer(_GroupConsumer):
    """/ws/statistics/<region>/: a nudge after each aggregation; the page re-fetches its figures."""

    def group_names(self, region_ids: list[int]) -> list[str]:
        return [live.stats_group(i) for i in region_ids]

    async def statistics_changed(self, event: dict[str, Any]) -> None:
        # An out-of-band element the page listens for (static/js/stats.js); it carries no figures,
        # so the page re-fetches exactly the view (period, filters) the coordinator has open.
        region_id = int(event["region_id"])
        frame = f'<span id="stats-pushed" hx-swap-oob="true" hidden data-region="{region_id}"></span>'
        await self.send(text_data=frame)


class AlertsConsumer(_GroupConsumer):
    """/ws/alerts/: the alert banners of the regions a coordinator (or national admin) sees."""

    def group_names(self, region_ids: list[int]) -> list[str]:
        return [live.alerts_group(i) for i in region_ids]

    async def on_open(self) -> None:
        # A full snapshot on every (re)connect: whatever was pushed while away is not lost.
        for region_id in self.scope["refusals_region_ids"]:
            await self.send(text_data=await database_sync_to_async(self._render)(region_id))

    def _render(self, region_id: int) -> str:
        from django.utils import translation

        with translation.override(self.lang):
            return live.render_banner(region_id, oob=True)

    async def alerts_changed(self, event: dict[str, Any]) -> None:
        frames: dict[str, str] = event["frames"]
        await self.send(text_data=frames.get(self.lang) or frames[settings.LANGUAGE_CODE])
