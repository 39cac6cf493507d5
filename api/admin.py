"""Admin of the API tokens (the model lives in capacity, see docs/architecture.md)."""

from typing import ClassVar

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from api.services import api_token_revoke
from capacity.models import ApiToken
from hospitals.http import AuthenticatedRequest


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued on the API-tokens page (the secret is shown there once); here only seen and revoked."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "scope",
        "organisation",
        "region",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    )
    list_display = FIELDS
    list_filter = ["scope", "region"]
    readonly_fields = FIELDS
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # the history points at the token that made a change

    @admin.action(description=_("Revoke the selected API tokens"))
    def revoke(self, request: AuthenticatedRequest, queryset: QuerySet[ApiToken]) -> None:
        for token_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            api_token_revoke(token_id=token_id, by=request.user)
