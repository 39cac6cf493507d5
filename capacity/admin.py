from django.contrib import admin
from django.http import HttpRequest

from capacity.models import ApiToken, BoardToken, CapacityEvent, Unit
from config.admin import ReadOnlyAdmin


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

    def get_readonly_fields(self, request: HttpRequest, obj: Unit | None = None) -> list[str]:  # type: ignore[override]
        return [*self.state_fields, "staffed_total", "location", "kind"] if obj else []


@admin.register(CapacityEvent)
class CapacityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "unit", "action", "source", "by", "api_token", "version"]
    list_filter = ["action", "source", "unit__location__region"]
    date_hierarchy = "at"


@admin.register(BoardToken)
class BoardTokenAdmin(admin.ModelAdmin):
    list_display = ["label", "region", "created_by", "created_at", "revoked_at"]
    readonly_fields = ["created_by", "created_at"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected links")
    def revoke(self, request: HttpRequest, queryset):  # type: ignore[no-untyped-def]
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())

    def save_model(self, request: HttpRequest, obj: BoardToken, form, change: bool) -> None:  # type: ignore[no-untyped-def]
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
            raw = obj.issue_raw()
            self.message_user(request, f"Wall-screen link (shown once): /board/screen/{raw}/")
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued on the API-tokens page (the secret is shown there once); here only seen and revoked."""

    list_display = ["name", "scope", "organisation", "region", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", "region"]
    readonly_fields = [
        "name",
        "scope",
        "organisation",
        "region",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # the history points at the token that made a change

    @admin.action(description="Revoke the selected API tokens")
    def revoke(self, request: HttpRequest, queryset):  # type: ignore[no-untyped-def]
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
