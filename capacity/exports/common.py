"""What both exports read: the current state of the locations of a region (or the country)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from capacity.models import Unit
from hospitals.models import Location, Region

# Identifier systems and canonical URLs of this deployment (PUBLIC_BASE_URL, docs/api.md).
BASE = settings.PUBLIC_BASE_URL
LOCATION_SYSTEM = f"{BASE}/fhir/NamingSystem/location-slug"
UNIT_SYSTEM = f"{BASE}/fhir/NamingSystem/unit-id"
ORGANISATION_SYSTEM = f"{BASE}/fhir/NamingSystem/organisation-id"


def export_locations(region: Region | None) -> list[Location]:
    """Active locations with their units in board order."""
    qs: QuerySet[Location] = (
        Location.objects.filter(active=True)
        .select_related("region", "organisation")
        .prefetch_related(Prefetch("units", queryset=Unit.objects.all(), to_attr="export_units"))
        .order_by("region__name", "city", "name")
    )
    if region is not None:
        qs = qs.filter(region=region)
    locations = list(qs)
    order = {kind: i for i, kind in enumerate(Unit.KIND_ORDER)}
    for location in locations:
        location.export_units.sort(key=lambda u: order[u.kind])  # type: ignore[attr-defined]
    return locations
