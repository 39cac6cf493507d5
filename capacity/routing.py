from django.urls import path

from capacity import consumers

websocket_urlpatterns = [
    path("ws/board/screen/<str:token>/", consumers.BoardConsumer.as_asgi()),
    path("ws/board/<slug:scope>/", consumers.BoardConsumer.as_asgi()),
]
