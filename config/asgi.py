"""ASGI entry point: HTTP through Django, websockets through Channels.

Run several of these behind one Redis (docs/operations.md); each process holds one
pub/sub subscription and fans board updates out to its own sockets.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from capacity.embedded import start_periodic_tasks  # noqa: E402
from capacity.routing import websocket_urlpatterns  # noqa: E402
from config.gc import configure_gc  # noqa: E402
from config.websocket import HostsOriginValidator, websocket_auth_stack  # noqa: E402
from refusals.routing import websocket_urlpatterns as refusals_websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": HostsOriginValidator(
            websocket_auth_stack(URLRouter(websocket_urlpatterns + refusals_websocket_urlpatterns))
        ),
    }
)

# Full garbage collections stop the event loop for every open board (160-230 ms at
# 1,000 sockets, docs/performance.md). Keep what start-up loaded out of their way and
# make them rarer; they still run, so cyclic garbage is still freed.
configure_gc()

# Embedded mode only: no separate beat process, so the web process keeps the clock.
start_periodic_tasks()
