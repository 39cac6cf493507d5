"""The search page's websocket: tells an open result list that one of its locations changed.

It rides on the board's push (capacity/live.py): every published row also goes to
the group of its location, and this socket joins the groups of the locations in
its result. It forwards no HTML: the page fetches its list again, so ranking,
stops and the region overflow are decided in one place (search/selectors.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from capacity import live
from core.revocation import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, RevocableConsumer, scope_principals
from core.websocket import NO_CHANNEL_LAYER
from hospitals.permissions import can_plan_intake, can_search
from kraamzorg.selectors import intake_fingerprint, plan_fingerprint
from search.live import intake_group, plan_group
from search.selectors import live_fingerprint

logger = logging.getLogger(__name__)

# Refusals are sent after accepting, so the page sees the code (not a 1006): 4400 a bad
# location list, 4401 not logged in (or the session ended), 4403 not allowed (core/revocation.py).
CLOSE_BAD_REQUEST = 4400
# More than any search lists (every active location in the country is about 75).
MAX_LOCATIONS = 200


def _location_ids(raw: str) -> list[int] | None:
    parts = [p for p in raw.split(",") if p]
    if not parts or len(parts) > MAX_LOCATIONS or not all(p.isdigit() for p in parts):
        return None
    return sorted({int(p) for p in parts})


class SearchConsumer(RevocableConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER  # frames come from the process's hub, like the board's
    lang: str = settings.LANGUAGE_CODE  # the hub picks a frame by language; this socket forwards none
    location_ids: list[int]
    _pending: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            live.hub.leave(self)

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not self.allowed(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        groups = self.groups_for(parse_qs(self.scope.get("query_string", b"").decode()))
        if groups is None:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        await live.hub.join(groups, self)
        await self.watch(scope_principals(self.scope))
        # Subscribed first, then the state: a change in between reaches the page either way.
        if not self.revoked:
            await self.resync()

    def allowed(self, user: Any) -> bool:
        return can_search(user)

    def groups_for(self, query: dict[str, list[str]]) -> list[str] | None:
        """The hub groups to follow, from the query string; None when it is malformed (4400)."""
        ids = _location_ids((query.get("locations") or [""])[0])
        if ids is None:
            return None
        self.location_ids = ids
        return [live.location_group(i) for i in ids]

    def fingerprint(self) -> str:
        """What the page compares on every (re)connect with the one it was rendered with."""
        return live_fingerprint(self.location_ids)

    def on_revoked(self) -> None:
        live.hub.leave(self)

    async def disconnect(self, code: int) -> None:
        live.hub.leave(self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # push only

    def push(self, frame: str) -> None:
        """A row of one of our locations was published (called by the hub; never blocks).

        The frame itself is the board's HTML and is not forwarded; one pending notice is
        enough however many rows arrive before it is sent.
        """
        if self.revoked:
            return
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._send({"type": "changed"}))

    async def resync(self) -> None:
        fingerprint = await database_sync_to_async(self.fingerprint)()
        await self._send({"type": "hello", "fingerprint": fingerprint})

    async def _send(self, message: dict[str, str]) -> None:
        try:
            await self.send(text_data=json.dumps(message))
        except Exception as exc:  # noqa: BLE001 - the client went away
            logger.info("search socket write failed, dropping it: %r", exc)
            live.hub.leave(self)


class KraamzorgConsumer(SearchConsumer):
    """The kraamzorg tab's socket: told when one of its organisations changed its figures for the due week.

    ``/ws/search/kraamzorg/?organisations=3,17&week=2026-12-07``: the hub groups of those
    organisations and that week (search/live.py publishes to them when ``intake_changed`` fires).
    The same notices as the capacity search: ``hello`` with a fingerprint, then ``changed``.
    """

    organisation_ids: list[int]
    week: date

    def groups_for(self, query: dict[str, list[str]]) -> list[str] | None:
        ids = _location_ids((query.get("organisations") or [""])[0])
        try:
            week = date.fromisoformat((query.get("week") or [""])[0])
        except ValueError:
            return None
        if ids is None or week.weekday() != 0:
            return None
        self.organisation_ids, self.week = ids, week
        return [intake_group(i, week) for i in ids]

    def fingerprint(self) -> str:
        return intake_fingerprint(self.organisation_ids, self.week)


class PlanConsumer(SearchConsumer):
    """The planner's page: told when its organisation's grid changed, by another planner or the API.

    ``/ws/kraamzorg/plan/``: only planners of a kraamzorg organisation, each for their own
    organisation (taken from the account, never from the query: there is nothing to choose). It
    lives beside the kraamzorg tab's socket because the hub is ``capacity``'s, which ``kraamzorg`` may
    not import. ``hello`` carries ``plan_fingerprint`` (each week with its version); ``changed`` makes
    the page fetch its grid and put in the weeks that changed (static/js/plan.js).
    """

    organisation_id: int

    def allowed(self, user: Any) -> bool:
        return user.organisation_id is not None and can_plan_intake(user, user.organisation_id)

    def groups_for(self, query: dict[str, list[str]]) -> list[str] | None:
        self.organisation_id = self.scope["user"].organisation_id
        return [plan_group(self.organisation_id)]

    def fingerprint(self) -> str:
        return plan_fingerprint(self.organisation_id)
