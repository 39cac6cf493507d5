"""uvicorn's websocket protocol with bounded send buffers (``uvicorn --ws core.ws_protocol:BoundedWebSocketProtocol``).

A client that stops reading (a phone in a tunnel, a frozen wall screen) otherwise keeps every
frame sent to it somewhere: first in the kernel's send buffer, which Linux grows to megabytes
(``net.ipv4.tcp_wmem``), then in the transport's buffer, then in the app's queue. This
protocol, the one every web process runs (Procfile, Makefile, tests/live_server.py):

* caps the kernel send buffer of each websocket at ``WS_SEND_BUFFER_BYTES`` (SO_SNDBUF on the
  accepted socket; Linux doubles the value for its own bookkeeping);
* tells the app how many bytes wait in the transport's write buffer, through the ASGI scope
  extension ``birthcare.send_buffer`` (read it with ``transport_queued``), so a consumer can
  bound a socket by bytes queued (capacity/consumers.py);
* closes at once when the app asks, also while the transport is paused: uvicorn's own
  ``websocket.close`` first waits until the client has read enough, which a client that does
  not read never does;
* lets the app write a text frame at once, from the event loop, when nothing stands in the way
  (``send_now``: the handshake is done, nothing closed, the transport not paused). A board push
  then costs no task wake-up per socket: at 5,000 boards that is most of the fan-out's time
  (docs/performance.md). Otherwise it says so and the app uses the ASGI send;
* aborts a connection whose buffered bytes the client still has not read when the close
  handshake times out (10 s) or a ping goes unanswered, instead of waiting for a flush that
  never comes.

Built on uvicorn 0.54's ``WebSocketsSansIOProtocol`` (the implementation ``--ws auto`` picks);
tests/test_slow_sockets.py runs it in a real uvicorn process, so an upgrade that changes the
attributes used here fails there.
"""

from __future__ import annotations

import logging
import socket
from asyncio import BaseTransport
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

logger = logging.getLogger(__name__)

SEND_BUFFER_EXTENSION = "birthcare.send_buffer"
# The uvicorn options of a web process's websockets (the Procfile's, which tests/live_server.py and
# the benches start the same way): this protocol, explicit pings, no per-message compression.
UVICORN_WS_OPTIONS = [
    "--ws",
    "core.ws_protocol:BoundedWebSocketProtocol",
    "--ws-ping-interval",
    "20",
    "--ws-ping-timeout",
    "20",
    "--ws-per-message-deflate",
    "false",
]


def _extension(scope: Mapping[str, Any]) -> Mapping[str, Any] | None:
    extension: Mapping[str, Any] | None = (scope.get("extensions") or {}).get(SEND_BUFFER_EXTENSION)
    return extension or None


def transport_queued(scope: Mapping[str, Any]) -> Callable[[], int] | None:
    """How many bytes wait in this socket's transport buffer, or None when the server does not say
    (another server, or ``channels.testing``): then only the app's own queue can be counted."""
    extension = _extension(scope)
    return extension["queued"] if extension else None


def send_now(scope: Mapping[str, Any]) -> Callable[[str], bool] | None:
    """Write a text frame now if the socket can take it (True); None when the server cannot."""
    extension = _extension(scope)
    return extension["send_now"] if extension else None


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.WS_SEND_BUFFER_BYTES)
            except OSError as exc:  # not fatal: the app's byte bound still holds
                logger.warning("could not cap the websocket send buffer: %r", exc)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The ASGI task was created above but has not run yet: it sees the extension.
        if self.handshake_initiated and not self.close_sent:
            self.scope.setdefault("extensions", {})[SEND_BUFFER_EXTENSION] = {
                "queued": self.transport.get_write_buffer_size,
                "send_now": self._send_now,
            }

    def _send_now(self, text: str) -> bool:
        """uvicorn's ``websocket.send`` of a text frame, without the await: only when it would not wait."""
        if (
            not self.handshake_complete
            or self.initial_response is not None
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:  # closing: the ASGI send reports it
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "websocket.close" and self._paused_and_open():
            self._close_now(message.get("code", 1000), message.get("reason") or "")
            return
        await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self._end)

    def _paused_and_open(self) -> bool:
        return (
            not self.writable.is_set()
            and self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
            and not self.transport.is_closing()
        )

    def _close_now(self, code: int, reason: str) -> None:
        """uvicorn's close, without first waiting for the client to read. The close frame queues
        behind the unread bytes: a slow client still reads it, a gone one is aborted later."""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self._end)

    def _end(self) -> None:
        # The client did not answer our close in time. ``close()`` would wait for the
        # unread bytes to be flushed, which may be never; drop them.
        if self.transport.get_write_buffer_size():
            self.transport.abort()
        else:
            self.transport.close()

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        if self.transport.get_write_buffer_size():
            self.transport.abort()
