from django.urls import path

from search import consumers

websocket_urlpatterns = [
    path("ws/search/", consumers.SearchConsumer.as_asgi()),
    path("ws/search/kraamzorg/", consumers.KraamzorgConsumer.as_asgi()),
    path("ws/kraamzorg/plan/", consumers.PlanConsumer.as_asgi()),
]
