from django.urls import path

from core.group_socket import guarded
from placements.consumers import DeskConsumer, MineConsumer, desk_gate, mine_gate

websocket_urlpatterns = [
    path("ws/requests/desk/", guarded(DeskConsumer, desk_gate)),
    path("ws/requests/mine/", guarded(MineConsumer, mine_gate)),
]
