from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from capacity.models import BoardToken, CapacityEvent, Unit
from capacity.services import board_token_revoke
from core.admin import ReadOnlyAdmin
from hospitals.http import AuthenticatedRequest, request_user


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    """Units are created here; their figures change only through the staff page or the API,
    so that every change lands in the history with who made it."""

    list_display = ["location", "kind", "available", "staffed_total", "status", "confirmed_at", "version"]
    list_filter = ["kind", "status", "location__region"]
    search_fields = ["location__name"]
    state_fields = [
        "available",
        "status",
        "stop_reason",
        "stop_expected_end",
        "note",
        "version",
        "updated_at",
        "updated_by",
        "confirmed_at",
        "confirmed_by",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Unit | None = None) -> list[str]:
        return [*self.state_fields, "staffed_total", "location", "kind"] if obj else []


@admin.register(CapacityEvent)
class CapacityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "unit", "action", "source", "by", "api_token", "version"]
    list_filter = ["action", "source", "unit__location__region"]
    date_hierarchy = "at"


@admin.register(BoardToken)
class BoardTokenAdmin(admin.ModelAdmin):
    list_display = ["label", "region", "created_by", "created_at", "revoked_at", "revoked_by"]
    readonly_fields = ["created_by", "created_at", "revoked_at", "revoked_by"]
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected wall-screen links"))
    def revoke(self, request: AuthenticatedRequest, queryset: QuerySet[BoardToken]) -> None:
        for token_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            board_token_revoke(token_id=token_id, by=request.user)

    def save_model(self, request: HttpRequest, obj: BoardToken, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request_user(request)
            raw = obj.issue_raw()
            link = f"/board/screen/{raw}/"
            self.message_user(request, gettext("Wall-screen link (shown once): %(url)s") % {"url": link})
        super().save_model(request, obj, form, change)
