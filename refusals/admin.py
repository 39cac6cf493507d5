from django.contrib import admin

from core.admin import ReadOnlyAdmin
from refusals.models import Alert, Refusal, RefusalEvent


@admin.register(Refusal)
class RefusalAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "location",
        "region",
        "care_type",
        "reason",
        "source",
        "board_showed_room",
        "withdrawn_at",
    ]
    list_filter = ["region", "reason", "care_type", "source", "board_showed_room"]
    date_hierarchy = "occurred_at"


@admin.register(RefusalEvent)
class RefusalEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "refusal", "action", "by", "version"]
    list_filter = ["action"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "raised_at",
        "kind",
        "region",
        "location",
        "count",
        "ended_at",
        "acknowledged_at",
        "acknowledged_by",
    ]
    list_filter = ["kind", "region"]
    date_hierarchy = "raised_at"
