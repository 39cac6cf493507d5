"""Reads for the board and the staff page."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from capacity.models import Unit
from hospitals.models import Location, Region, User


def _units() -> Any:
    return Prefetch("units", queryset=Unit.objects.order_by("kind"), to_attr="board_units")


def _sorted_units(location: Location) -> None:
    order = {kind: i for i, kind in enumerate(Unit.KIND_ORDER)}
    location.board_units.sort(key=lambda u: order[u.kind])  # type: ignore[attr-defined]


def obstetric_locations() -> QuerySet[Location]:
    """Active locations with a unit a client in labour can be brought to: a delivery suite where the
    location offers 24/7 obstetrics, or a birth centre (stand-alone or in a hospital).

    The capacity search lists no other location (capacity/search.py), and a refusal can
    concern any of them: a birth centre can refuse a begeleiding client too.
    """
    units = Unit.objects.filter(location=OuterRef("pk"))
    return (
        Location.objects.filter(active=True)
        .alias(
            has_suite=Exists(units.filter(kind=Unit.Kind.DELIVERY_SUITE)),
            has_birth_centre=Exists(units.filter(kind=Unit.Kind.BIRTH_CENTRE)),
        )
        .filter(Q(acute_obstetrics=True, has_suite=True) | Q(has_birth_centre=True))
    )


def board_locations(*, region: Region | None) -> list[Location]:
    """The locations of a region (None: the whole country) with their units, for the board:
    every location the search and the refusal form know (``obstetric_locations``), so
    stand-alone birth centres too."""
    qs: QuerySet[Location] = (
        obstetric_locations()
        .select_related("region", "organisation")
        .prefetch_related(_units())
        .order_by("region__name", "city", "name")
    )
    if region is not None:
        qs = qs.filter(region=region)
    locations = list(qs)
    for location in locations:
        _sorted_units(location)
    return locations


def board_location(location_id: int) -> Location | None:
    """One location's row for the live push: one query (the push renders it after every change)."""
    units = list(
        Unit.objects.filter(location_id=location_id)
        .select_related("location__region", "location__organisation")
        .order_by("kind")
    )
    location = (
        units[0].location
        if units
        else Location.objects.filter(pk=location_id).select_related("region", "organisation").first()
    )
    if location is None:
        return None
    for unit in units:
        unit.location = location
    location.board_units = units  # type: ignore[attr-defined]
    _sorted_units(location)
    return location


def favourites_first(locations: list[Location], user: User) -> list[Location]:
    favourite_ids = set(user.favourite_locations.values_list("id", flat=True))
    for location in locations:
        location.is_favourite = location.id in favourite_ids  # type: ignore[attr-defined]
    return sorted(locations, key=lambda loc: loc.id not in favourite_ids)


def units_for_staff(user: User) -> QuerySet[Unit]:
    """The units a hospital staff member may change: those of their own locations."""
    return (
        Unit.objects.filter(location__in=user.locations.all())
        .select_related("location")
        .order_by("location__name", "kind")
    )


def regions_with_locations() -> QuerySet[Region]:
    return Region.objects.filter(locations__active=True).distinct().order_by("name")
