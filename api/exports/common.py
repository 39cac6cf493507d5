"""What both exports read: the current state of the locations of a region (or the country)."""

from __future__ import annotations

from django.conf import settings

from capacity.selectors import LocationUnits, locations_with_units
from hospitals.models import Region

# Identifier systems and canonical URLs of this deployment (PUBLIC_BASE_URL, docs/api.md).
BASE = settings.PUBLIC_BASE_URL
LOCATION_SYSTEM = f"{BASE}/fhir/NamingSystem/location-slug"
UNIT_SYSTEM = f"{BASE}/fhir/NamingSystem/unit-id"
ORGANISATION_SYSTEM = f"{BASE}/fhir/NamingSystem/organisation-id"


def export_locations(region: Region | None) -> list[LocationUnits]:
    """Active locations with their units in board order."""
    return locations_with_units(region=region, obstetric_only=False)
