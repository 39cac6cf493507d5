"""Capacity search: the nearest places that can take a midwife's client now, for the care she needs.

A read only, with no HTTP in it: the search page, its JSON endpoint and the REST API all
call ``search_capacity()`` and present its result their own way. The rules and where
their numbers come from: docs/search.md.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from capacity.models import Unit
from capacity.selectors import in_board_order, locations_with_units
from hospitals.models import CareLevelRules, CareType, Location, Postcode, Region, User

EARTH_RADIUS_KM = 6371.0088
# Travel-time estimate (docs/search.md): roads are on average about 1.3 times the straight
# line in the Netherlands, driven at an average 60 km/h door to door, without traffic.
ROAD_FACTOR = 1.3
AVERAGE_SPEED_KMH = 60.0

PC4_INPUT_RE = re.compile(r"^\s*(\d{4})\s*(?:[A-Za-z]{2})?\s*$")
DIGITS_RE = re.compile(r"^[\d\s]+[A-Za-z]{0,2}\s*$")
PLACE_WITH_MUNICIPALITY_RE = re.compile(r"^(?P<place>.+?)\s*\((?P<municipality>[^()]+)\)\s*$")


class State(models.TextChoices):
    """How a location stands for this search, in ranking order."""

    ROOM = "room", gettext_lazy("room")
    FULL = "full", gettext_lazy("no free bed")
    STOP = "stop", gettext_lazy("admission stop")


STATE_ORDER: dict[str, int] = {State.ROOM: 0, State.FULL: 1, State.STOP: 2}
NEONATAL_KINDS_FROM = {
    # The neonatal units that can take the baby at each required level: that level or higher.
    "nicu": (Unit.Kind.NICU,),
    "high_care": (Unit.Kind.HIGH_CARE, Unit.Kind.NICU),
    "medium_care": (Unit.Kind.MEDIUM_CARE, Unit.Kind.HIGH_CARE, Unit.Kind.NICU),
    "term": (),
}


# --- where the client is ------------------------------------------------------------------


class OriginError(ValueError):
    """The postcode or place cannot be used; the message is for the user, in their language."""


@dataclass(frozen=True)
class Origin:
    latitude: float
    longitude: float
    label: str
    pc4: str = ""


def _postcode_origin(pc4: str) -> Origin | None:
    postcode = Postcode.objects.filter(pk=pc4).first()
    if postcode is None:
        return None
    return Origin(postcode.latitude, postcode.longitude, f"{postcode.pc4} {postcode.place}", postcode.pc4)


def parse_origin(text: str) -> Origin:
    """A 4-digit postcode (a full postcode such as 3584 CX is cut to its digits) or a place name."""
    text = " ".join(text.split())
    if not text:
        raise OriginError(_("Enter a postcode of 4 digits (like 3584) or a place name."))
    match = PC4_INPUT_RE.match(text)
    if match:
        origin = _postcode_origin(match.group(1))
        if origin is None:
            raise OriginError(
                _("%(pc4)s is not a known Dutch postcode area. Check the number or enter the place name.")
                % {"pc4": match.group(1)}
            )
        return origin
    if DIGITS_RE.match(text):
        raise OriginError(_("Enter a postcode of 4 digits (like 3584) or a place name."))
    return _place_origin(text)


def _place_origin(text: str) -> Origin:
    columns = ("place", "municipality", "latitude", "longitude")
    # Some place names hold brackets themselves ("Hengelo (Gld)"): the whole text first.
    rows = list(Postcode.objects.filter(place__iexact=text).values_list(*columns))
    match = PLACE_WITH_MUNICIPALITY_RE.match(text)
    if not rows and match:
        rows = list(
            Postcode.objects.filter(
                place__iexact=match.group("place"), municipality__iexact=match.group("municipality")
            ).values_list(*columns)
        )
    if not rows:
        raise OriginError(
            _("No place called %(name)s is known. Check the spelling or enter the postcode.") % {"name": text}
        )
    municipalities = sorted({row[1] for row in rows})
    if len(municipalities) > 1:
        raise OriginError(
            _("There are several places called %(name)s: choose one from the list, for example %(example)s.")
            % {"name": rows[0][0], "example": f"{rows[0][0]} ({municipalities[0]})"}
        )
    # A place with several postcode areas: the mean of their centroids (a few km at most).
    latitude = sum(row[2] for row in rows) / len(rows)
    longitude = sum(row[3] for row in rows) / len(rows)
    return Origin(latitude, longitude, rows[0][0])


def place_suggestions(prefix: str, *, limit: int = 12) -> list[str]:
    """Place names starting with ``prefix``, spelled so that parse_origin finds exactly that place."""
    prefix = " ".join(prefix.split())
    if len(prefix) < 2:
        return []
    pairs = list(
        Postcode.objects.filter(place__istartswith=prefix)
        .values_list("place", "municipality")
        .distinct()
        .order_by("place", "municipality")[: limit * 2]
    )
    names = {place for place, _municipality in pairs}
    ambiguous = {
        row["place"]
        for row in Postcode.objects.filter(place__in=names)
        .values("place")
        .annotate(n=Count("municipality", distinct=True))
        .filter(n__gt=1)
    }
    labels = [f"{place} ({municipality})" if place in ambiguous else place for place, municipality in pairs]
    return list(dict.fromkeys(labels))[:limit]


def practice_origin(user: User) -> Origin | None:
    """Where the user's own practice is, when it has a known postcode (the search's default)."""
    organisation = user.organisation if user.organisation_id else None
    if organisation is None or not organisation.pc4:
        return None
    origin = _postcode_origin(organisation.pc4)
    if origin is None:
        return None
    return Origin(origin.latitude, origin.longitude, f"{origin.label} ({organisation.name})", origin.pc4)


# --- what care is needed ------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """The units a location needs for this client: one obstetric unit, and a neonatal one below term."""

    care: str
    weeks: int | None
    band: str  # "nicu", "high_care", "medium_care" or "term"
    obstetric_kinds: tuple[str, ...]
    neonatal_kinds: tuple[str, ...]
    rules: dict[str, int]

    def describe(self) -> str:
        """The rule applied, in words, in the active language."""
        parts = [self.level_rule(), self.care_rule()]
        if self.weeks is None:
            parts.insert(0, _("No gestational age given: the rule for a term birth applies."))
        return " ".join(parts)

    def level_rule(self) -> str:
        """Which locations count for the gestational age."""
        nicu, high_care, term = (
            self.rules["nicu_below_weeks"],
            self.rules["high_care_below_weeks"],
            self.rules["term_from_weeks"],
        )
        if self.band == "nicu":
            return _("Below %(nicu)s weeks: only a perinatal centre with a NICU, with a free NICU bed.") % {
                "nicu": nicu
            }
        if self.band == "high_care":
            return _(
                "From %(nicu)s to %(high_care)s weeks: a hospital with neonatal high care or a NICU, "
                "with a free bed there."
            ) % {"nicu": nicu, "high_care": high_care}
        if self.band == "medium_care":
            return _(
                "From %(high_care)s to %(term)s weeks: a hospital with neonatal medium care or better, "
                "with a free bed there."
            ) % {"high_care": high_care, "term": term}
        if self.care == CareType.BEGELEIDING:
            return _("At term (%(term)s weeks or more): a hospital delivery suite or a birth centre.") % {"term": term}
        return _("At term (%(term)s weeks or more): any hospital delivery suite.") % {"term": term}

    def care_rule(self) -> str:
        """Which obstetric units count for the care type."""
        if self.care == CareType.OVERDRACHT:
            return _("Overdracht: the hospital's obstetric team takes over, so only hospital delivery suites count.")
        if self.band == "term":
            return _("Begeleiding: you stay in charge.")
        return _("Begeleiding before term: a birth centre only takes births at term, so only delivery suites count.")


def requirement_for(*, care: str, weeks: int | None, rules: CareLevelRules | None = None) -> Requirement:
    rules = rules or CareLevelRules.current()
    if weeks is not None and weeks < rules.nicu_below_weeks:
        band = "nicu"
    elif weeks is not None and weeks < rules.high_care_below_weeks:
        band = "high_care"
    elif weeks is not None and weeks < rules.term_from_weeks:
        band = "medium_care"
    else:
        band = "term"
    obstetric: tuple[str, ...] = (Unit.Kind.DELIVERY_SUITE,)
    if care == CareType.BEGELEIDING and band == "term":
        obstetric = (Unit.Kind.DELIVERY_SUITE, Unit.Kind.BIRTH_CENTRE)
    return Requirement(
        care=care,
        weeks=weeks,
        band=band,
        obstetric_kinds=obstetric,
        neonatal_kinds=NEONATAL_KINDS_FROM[band],
        rules=rules.thresholds(),
    )


# --- the search -------------------------------------------------------------------------------


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def travel_minutes(km: float) -> int:
    """A rough estimate by car (ROAD_FACTOR, AVERAGE_SPEED_KMH); never shown without saying so."""
    return max(1, math.ceil(km * ROAD_FACTOR / AVERAGE_SPEED_KMH * 60))


@dataclass
class LocationResult:
    location: Location
    distance_km: float
    travel_minutes: int
    units: list[Unit]  # the units that count for this search, obstetric first
    state: str
    in_region: bool
    stale: bool
    oldest_confirmed_at: datetime

    @property
    def has_room(self) -> bool:
        return self.state == State.ROOM

    @property
    def in_stop(self) -> bool:
        return self.state == State.STOP

    @property
    def phone_href(self) -> str:
        return self.location.phone_href


@dataclass
class SearchResult:
    origin: Origin
    requirement: Requirement
    region: Region | None
    results: list[LocationResult]
    region_has_room: bool
    beyond_region: bool  # results from other regions were added because the region has no room

    @property
    def location_ids(self) -> list[int]:
        return sorted(r.location.pk for r in self.results)


def _group_state(units: list[Unit]) -> str:
    """Room if any unit of the group is taking clients and has a free bed; stop if every one is stopped."""
    if all(u.status == Unit.Status.STOP for u in units):
        return State.STOP
    if any(u.status != Unit.Status.STOP and u.available > 0 for u in units):
        return State.ROOM
    return State.FULL


def search_capacity(
    *,
    origin: Origin,
    care: str,
    gestational_weeks: int | None = None,
    region: Region | None = None,
    rules: CareLevelRules | None = None,
    now: datetime | None = None,
) -> SearchResult:
    """Locations that offer the required care, rooms first, then full, then admission stops, each nearest first.

    Locations of ``region`` only, unless none of them has room: then those of every
    other region are added (region None: the whole country). Nothing is hidden for
    being full, stopped or out of date; those are marked.
    """
    if care not in CareType.values:
        raise ValueError(f"unknown care type {care!r}")
    requirement = requirement_for(care=care, weeks=gestational_weeks, rules=rules)
    now = now or timezone.now()
    inside: list[LocationResult] = []
    outside: list[LocationResult] = []
    # Every active location: the requirement below decides, unit by unit, with the one obstetric rule.
    for row in locations_with_units(obstetric_only=False):
        location = row.location
        obstetric = [u for u in row.units if u.kind in requirement.obstetric_kinds and u.is_obstetric_at(location)]
        neonatal = [u for u in row.units if u.kind in requirement.neonatal_kinds]
        if not obstetric or (requirement.neonatal_kinds and not neonatal):
            continue
        states: list[str] = [_group_state(obstetric)] + ([_group_state(neonatal)] if neonatal else [])
        relevant = in_board_order(obstetric + neonatal)
        km = distance_km(origin.latitude, origin.longitude, location.latitude, location.longitude)
        in_region = region is None or location.region_id == region.pk
        (inside if in_region else outside).append(
            LocationResult(
                location=location,
                distance_km=km,
                travel_minutes=travel_minutes(km),
                units=relevant,
                state=max(states, key=lambda state: STATE_ORDER[state]),
                in_region=in_region,
                stale=any(u.is_stale(now) for u in relevant),
                oldest_confirmed_at=min(u.confirmed_at for u in relevant),
            )
        )
    region_has_room = any(r.has_room for r in inside)
    beyond = not region_has_room and bool(outside)
    results = inside + outside if beyond else inside
    results.sort(key=lambda r: (STATE_ORDER[r.state], r.distance_km, r.location.name))
    return SearchResult(
        origin=origin,
        requirement=requirement,
        region=region,
        results=results,
        region_has_room=region_has_room,
        beyond_region=beyond,
    )


def live_fingerprint(location_ids: list[int]) -> str:
    """Changes whenever a unit of these locations changes: tells a reconnecting result page it is out of date."""
    rows = Unit.objects.filter(location_id__in=location_ids).order_by("pk")
    values = rows.values_list(
        "pk", "version", "status", "available", "confirmed_at", "stale_flagged_at", "stop_overdue_flagged_at"
    )
    return hashlib.sha256(repr(list(values)).encode()).hexdigest()[:16]


def result_data(result: SearchResult, *, now: datetime | None = None) -> dict[str, Any]:
    """The search result as plain data (JSON endpoint, API), labels in the active language."""
    now = now or timezone.now()
    return {
        "origin": {
            "label": result.origin.label,
            "pc4": result.origin.pc4 or None,
            "latitude": result.origin.latitude,
            "longitude": result.origin.longitude,
        },
        "care": result.requirement.care,
        "gestational_weeks": result.requirement.weeks,
        "required_level": result.requirement.band,
        "rule": result.requirement.describe(),
        "region": result.region.code if result.region else None,
        "region_has_room": result.region_has_room,
        "beyond_region": result.beyond_region,
        "travel_time_note": travel_time_note(),
        "results": [
            {
                "location": {
                    "id": r.location.pk,
                    "slug": r.location.slug,
                    "name": r.location.name,
                    "city": r.location.city,
                    "region": r.location.region.code,
                    # Only a number that was checked and can be dialled (hospitals.phones).
                    "phone": r.location.phone if r.location.phone_e164 else None,
                    "phone_e164": r.location.phone_e164 or None,
                },
                "state": r.state,
                "state_label": str(State(r.state).label),
                "in_region": r.in_region,
                "distance_km": round(r.distance_km, 1),
                "travel_minutes_estimate": r.travel_minutes,
                "stale": r.stale,
                "oldest_confirmed_at": r.oldest_confirmed_at.isoformat(),
                "units": [
                    {
                        "id": u.pk,
                        "kind": u.kind,
                        "kind_label": str(u.get_kind_display()),
                        "available": u.available,
                        "staffed_total": u.staffed_total,
                        "status": u.status,
                        "status_label": str(u.get_status_display()),
                        "stop_reason": u.stop_reason or None,
                        "stop_expected_end": u.stop_expected_end.isoformat() if u.stop_expected_end else None,
                        "confirmed_at": u.confirmed_at.isoformat(),
                        "stale": u.is_stale(now),
                        "note": u.note,
                    }
                    for u in r.units
                ],
            }
            for r in result.results
        ],
        "attribution": "Postcode coordinates: GeoNames, www.geonames.org (CC BY 4.0)",
    }


def travel_time_note() -> str:
    return _("Travel times are estimates: the straight line times %(factor)s at %(speed)s km/h, without traffic.") % {
        "factor": f"{ROAD_FACTOR:g}",
        "speed": f"{AVERAGE_SPEED_KMH:g}",
    }
