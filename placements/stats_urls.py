"""Coordinators' placement-request statistics (docs/requests.md, "Statistics for coordinators")."""

from django.urls import URLPattern

app_name = "placement_stats"

urlpatterns: list[URLPattern] = []
