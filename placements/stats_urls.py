"""Coordinators' placement-request statistics (docs/requests.md, "Statistics for coordinators")."""

from django.urls import path

from placements import stats_views

app_name = "placement_stats"

urlpatterns = [
    # Beside the refusal statistics of the region (refusals.urls: /statistics/<region>/...).
    path("statistics/<slug:region_code>/requests/", stats_views.region_requests, name="region"),
]
