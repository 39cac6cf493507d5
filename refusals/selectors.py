from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from capacity.selectors import obstetric_locations
from hospitals.models import Location, Region, User
from hospitals.permissions import has_role
from refusals.models import Refusal


def refusals_of(user: User) -> QuerySet[Refusal]:
    """A midwife's own refusals, newest first."""
    return Refusal.objects.filter(registered_by=user).select_related("location", "outcome_location")


def statistics_region_ids(user: object) -> list[int]:
    """Regions whose statistics and alerts this user sees: a coordinator's own, all for national admins.

    The same rule as ``can_view_statistics``, answered without a query for everyone else: the
    alert banner asks on every page.
    """
    if not has_role(user):
        return []
    u: Any = user
    if u.role == User.Role.NATIONAL_ADMIN or u.is_superuser:
        return list(Region.objects.order_by("name").values_list("id", flat=True))
    if u.role == User.Role.COORDINATOR and u.region_id is not None:
        return [u.region_id]
    return []


# --- "Where was she taken in instead" (the refusal form) -------------------------------------

NEAR_CHOICES = 5  # one-tap choices from the midwife's search: the nearest few are what she called


@dataclass(frozen=True)
class TakenInChoices:
    """What the form offers as the location that took her in: one tap first, then a type-ahead."""

    near: list[Location]  # the search's results, nearest first (the refusing location left out)
    region: Region | None  # the midwife's own region
    in_region: list[Location]  # the rest of her region, by name
    everywhere: list[Location]  # every location a client can be brought to, for the type-ahead


def taken_in_choices(user: User, *, near: Sequence[int] = (), refused_id: int | None = None) -> TakenInChoices:
    """The search's nearest locations, then her region's, then all of them (one query)."""
    everywhere = list(obstetric_locations().order_by("name", "city"))
    by_id = {location.pk: location for location in everywhere}
    picked: list[Location] = []
    for location_id in dict.fromkeys(near):
        location = by_id.get(location_id)
        if location is not None and location_id != refused_id:
            picked.append(location)
        if len(picked) == NEAR_CHOICES:
            break
    region = user.home_region
    shown = {location.pk for location in picked} | {refused_id}
    in_region = [] if region is None else [x for x in everywhere if x.region_id == region.pk and x.pk not in shown]
    return TakenInChoices(near=picked, region=region, in_region=in_region, everywhere=everywhere)


def location_label(location: Location) -> str:
    """How a location is named in the type-ahead and in the form's choices: name and city."""
    return f"{location.name} ({location.city})"


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def locations_matching(text: str, locations: Iterable[Location]) -> list[Location]:
    """The locations typed text means: an exact "name (city)" or name first, else every word found.

    One result resolves the choice; several are ambiguous; none is unknown.
    """
    wanted = _words(text)
    if not wanted:
        return []
    candidates = list(locations)
    for key in (location_label, lambda location: location.name):
        exact = [location for location in candidates if _words(key(location)) == wanted]
        if exact:
            return exact
    words = wanted.replace("(", " ").replace(")", " ").split()
    return [
        location for location in candidates if all(word in _words(f"{location.name} {location.city}") for word in words)
    ]
