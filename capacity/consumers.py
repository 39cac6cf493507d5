"""The board websocket: push only. Writes travel over normal POSTs."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from capacity import live, selectors
from capacity.models import BoardToken
from core.revocation import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    RevocableConsumer,
    board_token_principal,
    scope_principals,
)
from core.websocket import NO_CHANNEL_LAYER
from hospitals.models import Region
from hospitals.permissions import can_view_board

logger = logging.getLogger(__name__)

# Close codes that the htmx ws extension does not retry: the page shows why. Every refusal
# is sent after accepting (a refusal at the handshake reaches browsers as 1006): 4401 not
# logged in (or the session ended), 4403 not allowed or a withdrawn wall-screen link
# (core/revocation.py), 4404 unknown region.
CLOSE_NOT_FOUND = 4404

# Frames waiting for a socket that does not read them (a phone in a tunnel). Past this
# the socket is closed with 1013 "try again later": the browser reconnects and gets a
# full snapshot, which is worth more than a long backlog of rows.
MAX_BACKLOG = 100
CLOSE_TRY_AGAIN = 1013

SNAPSHOT_TTL = 30.0  # seconds; relative times ("12 min ago") are refreshed in the browser


class SnapshotCache:
    """Render each board's full snapshot once per language, not once per socket.

    A reconnect storm (every deploy) would otherwise render the board thousands of
    times. An entry is valid until the hub has seen a newer event, or for 30 s.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[int | None, str], tuple[int, float, str]] = {}

    def get(self, region_id: int | None, lang: str) -> str | None:
        entry = self._entries.get((region_id, lang))
        if entry and entry[0] == live.hub.seq and time.monotonic() - entry[1] < SNAPSHOT_TTL:
            return entry[2]
        return None

    def put(self, region_id: int | None, lang: str, html: str, seq: int) -> None:
        self._entries[(region_id, lang)] = (seq, time.monotonic(), html)


snapshots = SnapshotCache()


def _render_snapshot(region_id: int | None, lang: str) -> str:
    region = Region.objects.get(pk=region_id) if region_id else None
    rows = selectors.locations_with_units(region=region)
    with translation.override(lang):
        return render_to_string("capacity/_snapshot.html", {"rows": rows})


class BoardConsumer(RevocableConsumer):
    # No per-socket channel-layer channel: board frames come from the process's hub
    # (capacity/live.py). An alias that is not configured makes Channels skip it.
    channel_layer_alias = NO_CHANNEL_LAYER
    lang: str = settings.LANGUAGE_CODE
    region_id: int | None = None
    _outbox: collections.deque[str] | None = None
    _wake: asyncio.Future[None] | None = None
    _writer: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # However the socket ends (also without a clean close), the hub forgets it.
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stop()

    async def connect(self) -> None:
        kwargs: dict[str, Any] = self.scope["url_route"]["kwargs"]
        query = parse_qs(self.scope.get("query_string", b"").decode())
        requested = (query.get("lang") or [""])[0]
        if requested in dict(settings.LANGUAGES):
            self.lang = requested
        await self.accept()
        if "token" in kwargs:
            token = await database_sync_to_async(BoardToken.lookup)(kwargs["token"])
            if token is None:
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.region_id = token.region_id
            principals = [board_token_principal(token.pk)]
        else:
            user = self.scope.get("user")
            if not getattr(user, "is_authenticated", False):
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if not can_view_board(user):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            scope = kwargs["scope"]
            if scope != "national":
                region_id = await database_sync_to_async(
                    lambda: Region.objects.filter(code=scope).values_list("id", flat=True).first()
                )()
                if region_id is None:
                    await self.close(code=CLOSE_NOT_FOUND)
                    return
                self.region_id = region_id
            principals = scope_principals(self.scope)
        await self._open(principals)

    async def _open(self, principals: list[str]) -> None:
        # One writer per socket, started once: a push is then a put on its queue, not a
        # task per socket per update (docs/performance.md), and one slow socket never
        # holds up the others.
        self._start_writer()
        group = live.region_group(self.region_id) if self.region_id else live.NATIONAL
        await live.hub.join([group], self)
        # Registered after the checks, but a revocation received since the connection
        # arrived still applies (core/revocation.py): then nothing more is sent.
        await self.watch(principals)
        if not self.revoked:
            await self.resync()

    async def disconnect(self, code: int) -> None:
        self._stop()

    def _start_writer(self) -> None:
        self._outbox = collections.deque()
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def _stop(self) -> None:
        live.hub.leave(self)
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()

    def on_revoked(self) -> None:
        # Not one more row: the close follows at once.
        self._stop()
        self._outbox = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The socket only pushes. htmx may send form data over it; ignore it.
        return

    def push(self, frame: str) -> None:
        """Queue a frame for this socket (called by the hub; never blocks)."""
        outbox = self._outbox
        if outbox is None:
            return
        if len(outbox) >= MAX_BACKLOG:
            live.hub.leave(self)
            self._outbox = None
            asyncio.get_running_loop().create_task(self.close(code=CLOSE_TRY_AGAIN))
            return
        outbox.append(frame)
        wake = self._wake
        if wake is not None:
            self._wake = None
            if not wake.done():
                wake.set_result(None)

    async def _write(self) -> None:
        # A deque and one future instead of an asyncio.Queue, and the server's own send
        # instead of the consumer's layers: this loop runs once per socket per update.
        outbox = self._outbox
        assert outbox is not None
        send = self.base_send
        loop = asyncio.get_running_loop()
        try:
            while True:
                while outbox:
                    await send({"type": "websocket.send", "text": outbox.popleft()})
                if self._outbox is not outbox:
                    return  # closed for falling behind
                self._wake = loop.create_future()
                await self._wake
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means the client went away
            logger.info("board socket write failed, dropping it: %r", exc)
            live.hub.leave(self)

    async def resync(self) -> None:
        """Send a full snapshot of every row this board shows."""
        html = ""
        for _attempt in range(3):
            seq = live.hub.seq
            cached = snapshots.get(self.region_id, self.lang)
            html = (
                cached
                if cached is not None
                else await database_sync_to_async(_render_snapshot)(self.region_id, self.lang)
            )
            # A change pushed while we rendered already reached this socket: sending the
            # older snapshot after it would undo it on the page. Render again.
            if live.hub.seq == seq:
                snapshots.put(self.region_id, self.lang, html, seq)
                break
        self.push(html)
