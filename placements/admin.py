from django.contrib import admin

from core.admin import ReadOnlyAdmin
from placements.models import PlacementEvent, PlacementRequest


@admin.register(PlacementRequest)
class PlacementRequestAdmin(ReadOnlyAdmin):
    list_display = ["sent_at", "location", "region", "urgency", "care_type", "state", "deadline", "answered_at"]
    list_filter = ["region", "state", "urgency", "care_type"]
    date_hierarchy = "sent_at"


@admin.register(PlacementEvent)
class PlacementEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "request", "before", "after", "by", "via", "version"]
    list_filter = ["after", "via"]
