"""The board websocket: push only. Writes travel over normal POSTs."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from capacity import live
from capacity.models import BoardToken
from core import metrics
from core.revocation import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    RevocableConsumer,
    board_token_principal,
    scope_principals,
)
from core.websocket import NO_CHANNEL_LAYER
from core.ws_protocol import send_now, transport_queued
from hospitals.permissions import can_view_board
from hospitals.selectors import region_codes

logger = logging.getLogger(__name__)

# Close codes that the htmx ws extension does not retry: the page shows why. Every refusal
# is sent after accepting (a refusal at the handshake reaches browsers as 1006): 4401 not
# logged in (or the session ended), 4403 not allowed or a withdrawn wall-screen link
# (core/revocation.py), 4404 unknown region.
CLOSE_NOT_FOUND = 4404

# A socket that does not read (a phone in a tunnel) is closed with 1013 "try again later"
# once more than settings.WS_MAX_QUEUED_BYTES wait for it in this process (the transport's
# write buffer, which core/ws_protocol.py reports, plus this socket's queue), or more than
# MAX_BACKLOG frames: the browser reconnects and gets a full snapshot, which is worth more
# than a long backlog of rows. The kernel's share is capped by SO_SNDBUF (core/ws_protocol.py).
MAX_BACKLOG = 100
CLOSE_TRY_AGAIN = 1013


class BoardConsumer(RevocableConsumer):
    # No per-socket channel-layer channel: board frames come from the process's hub
    # (capacity/live.py). An alias that is not configured makes Channels skip it.
    channel_layer_alias = NO_CHANNEL_LAYER
    lang: str = settings.LANGUAGE_CODE
    region_id: int | None = None
    _outbox: collections.deque[str] | None = None
    _outbox_size = 0  # characters in _outbox and in the frame being handed to the server
    _transport_queued: Callable[[], int] | None = None
    _send_now: Callable[[str], bool] | None = None
    _largest_frame = 0
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
                region_id = await region_codes.id_for(scope)
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
        # The snapshot is the first frame: rows pushed from now on wait until it is out
        # (live.Hub.release). A subclass with a snapshot of its own (api/stream.py) is not
        # held: its rows carry no version to compare.
        await live.hub.join([group], self, hold=type(self).resync is BoardConsumer.resync)
        # Registered after the checks, but a revocation received since the connection
        # arrived still applies (core/revocation.py): then nothing more is sent.
        await self.watch(principals)
        if not self.revoked:
            await self.resync()

    async def disconnect(self, code: int) -> None:
        self._stop()

    def _start_writer(self) -> None:
        self._outbox = collections.deque()
        self._outbox_size = 0
        self._transport_queued = transport_queued(self.scope)
        self._send_now = send_now(self.scope)
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
        # Characters, not encoded bytes: len() is free and board rows are nearly all ASCII.
        size = len(frame)
        if size > self._largest_frame:
            self._largest_frame = size
        queued = self._outbox_size + size
        if self._transport_queued is not None:
            queued += self._transport_queued()
        # A full snapshot (a national board: ~80 rows) may be near the bound by itself, and a
        # slow phone takes seconds to read it: the bound counts beyond the largest frame.
        if queued > settings.WS_MAX_QUEUED_BYTES + self._largest_frame or len(outbox) >= MAX_BACKLOG:
            self._close_for_slowness(queued, len(outbox))
            return
        wake = self._wake
        # The writer is idle (nothing queued, nothing being sent): write it now, without waking
        # it, when the server can (core/ws_protocol.py). Order is kept: nothing is ahead of it.
        if wake is not None and self._send_now is not None and self._send_now(frame):
            metrics.observe_sent(frame)
            return
        outbox.append(frame)
        self._outbox_size += size
        if wake is not None:
            self._wake = None
            if not wake.done():
                wake.set_result(None)

    def _close_for_slowness(self, queued: int, frames: int) -> None:
        logger.info("board socket too slow (%d bytes, %d frames waiting): closing it with 1013", queued, frames)
        # Nothing more for it, and its queue freed now: the close frame goes out behind the
        # bytes already in the transport, without waiting for the client to read them.
        self._stop()
        self._outbox = None
        self._outbox_size = 0
        metrics.closed_for_slowness(frames + 1)  # those waiting, and the one refused
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_TRY_AGAIN))

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
                    frame = outbox.popleft()
                    await send({"type": "websocket.send", "text": frame})
                    self._outbox_size -= len(frame)  # now in the transport buffer, counted there
                    metrics.observe_sent(frame)
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
        """Send a full snapshot of every row this board shows, then the rows pushed meanwhile that are newer."""
        live.hub.hold(self)
        try:
            snapshot = await live.snapshots.get(self.region_id, self.lang)
        except BaseException:
            live.hub.release(self, None)  # no snapshot: at least nothing held back is lost
            raise
        live.hub.release(self, snapshot)
