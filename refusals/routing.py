from django.urls import path

from refusals.consumers import AlertsConsumer, StatisticsConsumer, alerts_gate, guarded, statistics_gate

websocket_urlpatterns = [
    path("ws/statistics/<slug:region_code>/", guarded(StatisticsConsumer, statistics_gate)),
    path("ws/alerts/", guarded(AlertsConsumer, alerts_gate)),
]
