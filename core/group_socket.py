"""Push-only websockets that join a few channel-layer groups (coordinators' pages, placement screens).

A gate decides before the consumer (and its channel-layer channel) exists: a refused socket
never touches Redis, like the board's origin check (core/websocket.py). A refusal is accepted
and then closed, so the page sees the code. The consumer joins one group per id the gate
allowed, re-joins before channels-redis forgets them (group_expiry, a day), sends a snapshot on
every (re)connect (``on_open``), and closes when its user's access or session ends
(core/revocation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from core import push
from core.revocation import RevocableConsumer, scope_principals
from core.websocket import refuse

# channels-redis forgets group members after a day (group_expiry); a page left open on a
# second screen re-joins well before that.
REJOIN_SECONDS = 6 * 3600


def scope_lang(scope: Any) -> str:
    requested = (parse_qs(scope.get("query_string", b"").decode()).get("lang") or [""])[0]
    return requested if requested in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def guarded(consumer: type[GroupConsumer], gate: Callable[[Any], Awaitable[int | list[int]]]) -> Any:
    """The consumer for those the gate lets in (with the ids it allowed), a bare refusal for everyone else."""
    allowed = consumer.as_asgi()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        verdict = await gate(scope)
        if isinstance(verdict, int):
            return await refuse(scope, receive, send, code=verdict)
        return await allowed({**scope, "allowed_ids": verdict}, receive, send)

    return app


class GroupConsumer(RevocableConsumer):
    """Joins a channel-layer group per id the gate allowed (a region, a location, a user), re-joined in time."""

    lang: str = settings.LANGUAGE_CODE
    joined: list[str]
    _rejoin: asyncio.Task[None] | None = None

    def group_names(self, ids: list[int]) -> list[str]:
        raise NotImplementedError

    async def connect(self) -> None:
        push.remember_loop()
        self.lang = scope_lang(self.scope)
        self.joined = self.group_names(self.scope["allowed_ids"])
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
