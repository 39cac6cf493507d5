"""Origin check for websockets that denies without touching the channel layer.

Channels' own validator denies through ``WebsocketDenier``, a consumer that opens a
channel-layer channel (with Redis: a blocking read) only to refuse the socket. Under
uvicorn that read outlives the refusal by seconds and ends in a logged TimeoutError.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
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
