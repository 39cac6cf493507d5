"""Reads for the hospitals app's own pages."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from hospitals.models import Location, LocationPhoneChange
from hospitals.permissions import phone_locations


def phone_book(user: Any) -> QuerySet[Location]:
    """The locations whose delivery-suite number this user maintains, with who last changed it and when."""
    latest = LocationPhoneChange.objects.filter(location=OuterRef("pk")).order_by("-at", "-id")
    return (
        phone_locations(user)
        .select_related("region", "organisation")
        .annotate(
            phone_changed_at=Subquery(latest.values("at")[:1]),
            phone_changed_by=Subquery(latest.values("by__username")[:1]),
        )
        .order_by("region__name", "name")
    )


def phone_history(location: Location, *, limit: int = 20) -> QuerySet[LocationPhoneChange]:
    return LocationPhoneChange.objects.filter(location=location).select_related("by")[:limit]
