"""Placement screens' websockets (docs/requests.md, "Live"): push only, writes are normal POSTs.

``/ws/requests/desk/``: a member of staff's desk (the staff page and the delivery-suite screen),
one group per location of theirs. ``/ws/requests/mine/``: a midwife's own requests. Every
(re)connect starts with a snapshot of what the page shows, so nothing pushed while away is lost.
Gates (core/group_socket.py): 4401 not logged in, 4403 not allowed (another role).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import translation

from core.group_socket import GroupConsumer
from core.revocation import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from hospitals.permissions import is_midwife
from placements import live, selectors


def _desk_verdict(user: Any) -> int | list[int]:
    if not getattr(user, "is_authenticated", False):
        return CLOSE_UNAUTHENTICATED
    return selectors.desk_location_ids(user) or CLOSE_FORBIDDEN


def _mine_verdict(user: Any) -> int | list[int]:
    if not getattr(user, "is_authenticated", False):
        return CLOSE_UNAUTHENTICATED
    return [user.pk] if is_midwife(user) else CLOSE_FORBIDDEN


async def desk_gate(scope: Any) -> int | list[int]:
    return await database_sync_to_async(_desk_verdict)(scope.get("user"))


async def mine_gate(scope: Any) -> int | list[int]:
    return await database_sync_to_async(_mine_verdict)(scope.get("user"))


class _FramesConsumer(GroupConsumer):
    async def on_open(self) -> None:
        for frame in await database_sync_to_async(self._snapshot)():
            await self.send(text_data=frame)

    def _snapshot(self) -> list[str]:
        with translation.override(self.lang):
            return self.snapshot()

    def snapshot(self) -> list[str]:
        raise NotImplementedError

    async def frames_push(self, event: dict[str, Any]) -> None:
        frames: dict[str, str] = self.frames_of(event)
        if frames:
            await self.send(text_data=frames.get(self.lang) or frames[settings.LANGUAGE_CODE])

    def frames_of(self, event: dict[str, Any]) -> dict[str, str]:
        return event["frames"]


class DeskConsumer(_FramesConsumer):
    def group_names(self, ids: list[int]) -> list[str]:
        return [live.location_group(i) for i in ids]

    def snapshot(self) -> list[str]:
        return [live.render_desk(i, oob=True) for i in self.scope["allowed_ids"]]


class MineConsumer(_FramesConsumer):
    """``?ask=<uuid>``: the page of one ask gets that ask only; without it, the list page gets her whole list."""

    ask: str = ""

    def group_names(self, ids: list[int]) -> list[str]:
        requested = (parse_qs(self.scope.get("query_string", b"").decode()).get("ask") or [""])[0]
        try:
            self.ask = str(uuid.UUID(requested)) if requested else ""
        except ValueError:
            self.ask = ""
        return [live.midwife_group(i) for i in ids]

    def snapshot(self) -> list[str]:
        user = self.scope["user"]
        if not self.ask:
            return [live.render_asks(user, oob=True)]
        ask = selectors.ask_of(uuid.UUID(self.ask), user)  # none if not hers: she gets nothing
        return [live.render_ask(ask, oob=True)] if ask is not None else []

    def frames_of(self, event: dict[str, Any]) -> dict[str, str]:
        if not self.ask:
            return event["frames"]
        return event["ask_frames"] if event.get("ask") == self.ask else {}
