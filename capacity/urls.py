from django.urls import path

from capacity import views

app_name = "capacity"

urlpatterns = [
    path("board/", views.board, name="board_national"),
    path("board/region/<slug:region_code>/", views.board, name="board_region"),
    path("board/rows/<slug:scope>/", views.board_rows, name="board_rows"),
    path("board/screen/<str:token>/", views.screen, name="screen"),
    path("screens/", views.screens, name="screens"),
    path("screens/<int:token_id>/revoke/", views.screen_revoke, name="screen_revoke"),
    path("favourites/<int:location_id>/", views.toggle_favourite, name="toggle_favourite"),
    path("units/", views.my_units, name="my_units"),
    path("units/confirm-all/", views.units_confirm_all, name="units_confirm_all"),
    path("units/<int:unit_id>/", views.unit_update, name="unit_update"),
    path("units/<int:unit_id>/confirm/", views.unit_confirm, name="unit_confirm"),
]
