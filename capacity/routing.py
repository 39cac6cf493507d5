from django.urls import path

from capacity import consumers, search_consumer

websocket_urlpatterns = [
    path("ws/board/screen/<str:token>/", consumers.BoardConsumer.as_asgi()),
    path("ws/board/<slug:scope>/", consumers.BoardConsumer.as_asgi()),
    path("ws/search/", search_consumer.SearchConsumer.as_asgi()),
]
