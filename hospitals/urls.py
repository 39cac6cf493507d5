from django.urls import path

from hospitals import phone_views, views

app_name = "hospitals"

urlpatterns = [
    path("accounts/members/", views.members, name="members"),
    path("accounts/members/<int:user_id>/active/", views.member_toggle, name="member_toggle"),
    path("accounts/phones/", phone_views.phones, name="phones"),
    path("accounts/phones/<int:location_id>/", phone_views.phone_edit, name="phone_edit"),
]
