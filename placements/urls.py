from django.urls import path

from placements import views

app_name = "placements"

urlpatterns = [
    path("requests/", views.mine, name="mine"),
    path("requests/new/", views.new, name="new"),
    path("requests/desk/", views.desk, name="desk"),
    path("requests/desk/panel/", views.desk_panel, name="desk_panel"),
    path("requests/<uuid:ask>/", views.ask_view, name="ask"),
    path("requests/<uuid:ask>/panel/", views.ask_panel, name="ask_panel"),
    path("requests/<uuid:ask>/next/", views.ask_next, name="ask_next"),
    path("requests/<int:request_id>/seen/", views.transition, {"step": "seen"}, name="seen"),
    path("requests/<int:request_id>/accept/", views.transition, {"step": "accept"}, name="accept"),
    path("requests/<int:request_id>/decline/", views.transition, {"step": "decline"}, name="decline"),
    path("requests/<int:request_id>/withdraw/", views.transition, {"step": "withdraw"}, name="withdraw"),
    path("requests/<int:request_id>/arrived/", views.transition, {"step": "arrived"}, name="arrived"),
]
