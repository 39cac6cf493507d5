"""The API tokens page (for people); the API itself is mounted from api/v1.py."""

from django.urls import path

from api import views

app_name = "api"

urlpatterns = [
    path("accounts/api-tokens/", views.api_tokens, name="api_tokens"),
    path("accounts/api-tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="api_token_revoke"),
]
