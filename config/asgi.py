"""ASGI entry point: HTTP through Django, websockets through Channels.

Run several of these behind one Redis (docs/operations.md); each process holds one
pub/sub subscription and fans board updates out to its own sockets.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from api.stream import ApiStreamConsumer  # noqa: E402
from capacity.routing import websocket_urlpatterns as capacity_websocket_urlpatterns  # noqa: E402
from core.embedded import start_periodic_tasks  # noqa: E402
from core.gc import configure_gc  # noqa: E402
from core.websocket import HostsOriginValidator, websocket_auth_stack  # noqa: E402
from hospitals.mfa import SecondFactorWebsocketGuard  # noqa: E402
from hospitals.websocket_auth import BatchedAuthMiddleware  # noqa: E402
from placements.routing import websocket_urlpatterns as placements_websocket_urlpatterns  # noqa: E402
from refusals.routing import websocket_urlpatterns as refusals_websocket_urlpatterns  # noqa: E402
from search.routing import websocket_urlpatterns as search_websocket_urlpatterns  # noqa: E402

# A session that still owes its second factor gets 4401 (hospitals/mfa.py); wall screens use their token.
board_websockets = HostsOriginValidator(
    websocket_auth_stack(
        SecondFactorWebsocketGuard(
            URLRouter(
                capacity_websocket_urlpatterns
                + search_websocket_urlpatterns
                + refusals_websocket_urlpatterns
                + placements_websocket_urlpatterns
            ),
            open_paths=("/ws/board/screen/",),
        ),
        # Sessions, users and second factors of sockets connecting together are read together.
        auth=BatchedAuthMiddleware,
    )
)
# The API's event stream authenticates with a bearer token, never a cookie, so a page on
# another origin cannot ride on a user's session: no origin check, no session middleware.
api_stream = ApiStreamConsumer.as_asgi()


async def websockets(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/api/v1/stream/":
        await api_stream(scope, receive, send)
    else:
        await board_websockets(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets})

# Full garbage collections stop the event loop for every open board (160-230 ms at
# 1,000 sockets, docs/performance.md). Keep what start-up loaded out of their way and
# make them rarer; they still run, so cyclic garbage is still freed.
configure_gc()

# Embedded mode only: no separate beat process, so the web process keeps the clock.
start_periodic_tasks()
