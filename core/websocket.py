"""Origin check for websockets that denies without touching the channel layer.

Channels' own validator denies through ``WebsocketDenier``, a consumer that opens a
channel-layer channel (with Redis: a blocking read) only to refuse the socket. Under
uvicorn that read outlives the refusal by seconds and ends in a logged TimeoutError.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.auth import AuthMiddleware
from channels.security.websocket import OriginValidator, WebsocketDenier
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.conf import settings

NO_CHANNEL_LAYER = "no-channel-layer"  # an alias that is not configured: Channels skips the layer


class _Denier(WebsocketDenier):
    channel_layer_alias = NO_CHANNEL_LAYER


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
            return await _Denier()(scope, receive, send)
        return await self.application(scope, receive, send)


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


def websocket_auth_stack(inner: Any) -> Any:
    """``AuthMiddlewareStack`` for websockets that only read the session."""
    return CookieMiddleware(ReadOnlySessionMiddleware(AuthMiddleware(inner)))
