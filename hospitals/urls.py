from django.urls import path

from hospitals import views

app_name = "hospitals"

urlpatterns = [
    path("accounts/members/", views.members, name="members"),
    path("accounts/members/<int:user_id>/active/", views.member_toggle, name="member_toggle"),
]
