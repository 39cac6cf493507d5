from django.urls import path

from core.group_socket import guarded
from refusals.consumers import (
    AlertsConsumer,
    KraamzorgStatisticsConsumer,
    StatisticsConsumer,
    alerts_gate,
    statistics_gate,
)

websocket_urlpatterns = [
    path("ws/statistics/<slug:region_code>/", guarded(StatisticsConsumer, statistics_gate)),
    path("ws/statistics/<slug:region_code>/kraamzorg/", guarded(KraamzorgStatisticsConsumer, statistics_gate)),
    path("ws/alerts/", guarded(AlertsConsumer, alerts_gate)),
]
