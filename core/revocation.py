"""Revocation of open sockets: what each socket runs as, and closing them when that ends.

Every socket registers the principals it runs as: ``user:<id>`` and ``session:<hash>`` for a
logged-in page, ``board_token:<id>`` for a wall screen, ``api_token:<id>`` for the API stream.
A write that ends one of them (a revoked link or token, a deactivated user, a changed role or
binding, a logout) calls ``revoke_on_commit``; after commit the ``revoked`` signal is sent, and
``capacity.live`` publishes it on the push hub's Redis channel, so that every server process
closes its matching sockets at once (``registry.close``). The registry lives here, low in the
layers, because sockets of every app register in it (refusals may not import capacity).

Close codes: 4401 (not logged in, token unknown or revoked, session ended: log in again) and
4403 (logged in but not allowed: role, region, withdrawn wall-screen link). Neither is retried
by the pages (static/js).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403

# Scope key: when the connection entered our stack (time.monotonic()). A revocation received
# after that moment may have missed the checks the socket passed on connect, so it applies.
SINCE = "revocation_since"
# How long a received revocation is remembered for sockets still connecting.
RECENT_SECONDS = 10.0

# Sent after commit with ``principals`` (list of str) and ``code`` (int); capacity/apps.py
# connects the publisher that carries it to every process.
principals_revoked = Signal()


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


def session_principal(session_key: str) -> str:
    # Hashed: the key is a bearer secret and travels over Redis and into logs.
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()


def board_token_principal(token_id: int) -> str:
    return f"board_token:{token_id}"


def api_token_principal(token_id: int) -> str:
    return f"api_token:{token_id}"


def scope_principals(scope: Any) -> list[str]:
    """The principals of a session-authenticated socket: its user and its session."""
    principals: list[str] = []
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        principals.append(user_principal(user.pk))
    session = scope.get("session")
    key = getattr(session, "session_key", None) if session is not None else None
    if key:
        principals.append(session_principal(key))
    return principals


def revoke_on_commit(principals: Iterable[str], *, code: int) -> None:
    """Close every open socket of these principals, in every process, once the transaction commits."""
    names = list(principals)
    if names:
        transaction.on_commit(lambda: principals_revoked.send(sender=None, principals=names, code=code))


class Revocable(Protocol):
    def revoke(self, code: int) -> None: ...


class Registry:
    """Per-process map of principals to the open sockets that run as them (used on the event loop)."""

    def __init__(self) -> None:
        self.sockets: dict[str, set[Revocable]] = {}
        self.recent: collections.deque[tuple[float, str, int]] = collections.deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        # Set by the push hub (capacity/live.py): start this process's subscription, so that
        # revocations published by other processes reach it.
        self.listen: Callable[[], Awaitable[None]] | None = None

    async def register(self, socket: Revocable, principals: Iterable[str], *, since: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (a test, or a server restarted in-process): the old sockets are gone.
            self.sockets = {}
            self.recent.clear()
            self.loop = loop
        if self.listen is not None:
            await self.listen()
        names = list(principals)
        for name in names:
            self.sockets.setdefault(name, set()).add(socket)
        # Revoked while this socket was connecting (after its checks read the database)?
        if since is not None:
            self._forget_old()
            for at, name, code in self.recent:
                if at >= since and name in names:
                    self.unregister(socket)
                    socket.revoke(code)
                    return

    def unregister(self, socket: Revocable) -> None:
        for name in list(self.sockets):
            members = self.sockets[name]
            members.discard(socket)
            if not members:
                del self.sockets[name]

    def close(self, principals: Iterable[str], code: int) -> int:
        """Close the local sockets of these principals with ``code``; returns how many."""
        now = time.monotonic()
        targets: set[Revocable] = set()
        for name in principals:
            self.recent.append((now, name, code))
            targets.update(self.sockets.get(name, ()))
        self._forget_old()
        for socket in targets:
            self.unregister(socket)
            try:
                socket.revoke(code)
            except Exception as exc:  # noqa: BLE001 - one dead socket must not keep the others open
                logger.info("closing a revoked socket failed: %r", exc)
        return len(targets)

    def _forget_old(self) -> None:
        limit = time.monotonic() - RECENT_SECONDS
        while self.recent and self.recent[0][0] < limit:
            self.recent.popleft()

    def count(self) -> int:
        return len({id(s) for members in self.sockets.values() for s in members})


registry = Registry()


class RevocableConsumer(AsyncWebsocketConsumer):
    """A websocket consumer that refuses by close code and can be revoked while open.

    Subclasses accept before they check (``refuse``), so that every refusal reaches the
    client as a close code: a refusal at the handshake is an HTTP 403, which browsers
    report as 1006 and clients retry. Once allowed, they ``watch`` their principals.
    """

    _revoked_code: int | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            registry.unregister(self)

    async def dispatch(self, message: Any) -> None:
        # Channels' dispatch first runs close_old_connections on the process's one database thread,
        # for every connect, receive and disconnect: a serial thread hop per socket event that a
        # reconnect storm queues by the thousand (docs/performance.md). Our consumers reach the
        # database only through database_sync_to_async, which closes old connections itself,
        # before and after each call, on the thread that holds them.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def watch(self, principals: Iterable[str]) -> None:
        await registry.register(self, principals, since=self.scope.get(SINCE))

    @property
    def revoked(self) -> bool:
        return self._revoked_code is not None

    def revoke(self, code: int) -> None:
        """Close this socket with ``code`` (called by the registry on the event loop; never blocks)."""
        if self._revoked_code is not None:
            return
        self._revoked_code = code
        self.on_revoked()
        asyncio.get_running_loop().create_task(self.close(code=code))

    def on_revoked(self) -> None:
        """Stop sending anything further (called before the close is sent)."""

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if self._revoked_code is None:  # revoked: nothing more goes out, the close is on its way
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
