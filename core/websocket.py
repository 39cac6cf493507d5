"""Origin check for websockets that refuses by close code, without touching the channel layer.

Channels' own validator denies through ``WebsocketDenier``: a refusal at the handshake (HTTP
403, which browsers report as 1006 and clients retry), from a consumer that opens a
channel-layer channel (with Redis: a blocking read) only to refuse the socket. Ours accepts
and closes with 4403, like every other refusal (core/revocation.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from channels.auth import AuthMiddleware
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import OriginValidator
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.conf import settings

from core.revocation import CLOSE_FORBIDDEN, SINCE

NO_CHANNEL_LAYER = "no-channel-layer"  # an alias that is not configured: Channels skips the layer
CLOSE_CODE = "refusal_close_code"  # scope key read by ``Refusal``


class Refusal(AsyncWebsocketConsumer):
    """Accept, then close with ``scope[CLOSE_CODE]``: the client sees why (not a 1006) and does not retry."""

    channel_layer_alias = NO_CHANNEL_LAYER

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=self.scope[CLOSE_CODE])


_refusal = Refusal.as_asgi()


async def refuse(scope: Any, receive: Any, send: Any, *, code: int) -> None:
    await _refusal({**scope, CLOSE_CODE: code}, receive, send)


class HostsOriginValidator(OriginValidator):
    def __init__(self, application: Any) -> None:
        super().__init__(application, settings.ALLOWED_HOSTS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    origin = urlparse(value.decode("latin1"))
                except UnicodeDecodeError:
                    origin = None
        if not self.valid_origin(origin):
            return await refuse(scope, receive, send, code=CLOSE_FORBIDDEN)
        # Revocations received from now on apply to this socket, even while it is still connecting.
        return await self.application({**scope, SINCE: time.monotonic()}, receive, send)


class ReadOnlySessionMiddleware(SessionMiddleware):
    """Channels' session middleware without its ``send`` wrapper.

    The wrapper saves a modified session on ``http.response.start``, a message a
    websocket never sends; it still inspects the session on every frame (about a
    quarter of the per-socket cost of a board push, docs/performance.md). Our
    websockets only read the session, so frames go straight to the server.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def websocket_auth_stack(inner: Any, auth: Callable[[Any], Any] = AuthMiddleware) -> Any:
    """``AuthMiddlewareStack`` for websockets that only read the session (``auth``: the middleware
    that sets ``scope["user"]``; config/asgi.py passes the batched one, hospitals/websocket_auth.py)."""
    return CookieMiddleware(ReadOnlySessionMiddleware(auth(inner)))
