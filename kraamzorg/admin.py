from django.contrib import admin

from core.admin import ReadOnlyAdmin
from kraamzorg.models import IntakeEvent, IntakeWeek, Team, WorkArea


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation"]
    list_filter = ["organisation"]


@admin.register(WorkArea)
class WorkAreaAdmin(admin.ModelAdmin):
    list_display = ["pc4", "organisation", "team"]
    list_filter = ["organisation"]
    search_fields = ["pc4"]


@admin.register(IntakeWeek)
class IntakeWeekAdmin(ReadOnlyAdmin):
    """Planners change the grid (kraamzorg.services), so every change has its history row."""

    list_display = ["organisation", "week", "families", "hours", "minimum_hours", "status", "version", "confirmed_at"]
    list_filter = ["organisation", "status"]


@admin.register(IntakeEvent)
class IntakeEventAdmin(ReadOnlyAdmin):
    list_display = ["week", "action", "source", "by", "at", "version"]
    list_filter = ["action", "source"]
