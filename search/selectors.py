"""Capacity search: the nearest places that can take a midwife's client now, for the care she needs.

A read only, with no HTTP in it: the search page, its JSON endpoint and the REST API all
call ``search_capacity()`` and present its result their own way. The rules and where
their numbers come from: docs/search.md.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from capacity.models import Unit
from capacity.selectors import in_board_order, locations_with_units
from core.geo import distance_km
from hospitals.models import CareLevelRules, CareType, Location, Postcode, Region, User

# Travel-time estimate (docs/search.md, "Travel-time estimate"): a line fitted to published
# route-planner driving times between Dutch cities (search/data/road_times.csv), and for short
# trips the town-traffic rule below when it is quicker.
ROAD_TIMES_CSV = Path(__file__).resolve().parent / "data" / "road_times.csv"
ROAD_FACTOR = 1.3  # roads run about 1.3 times the straight line (short trips)
TOWN_SPEED_KMH = 35.0  # door to door in town, without traffic (short trips)
FAR_MINUTES = 60  # results further than this are flagged

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


@dataclass(frozen=True)
class TravelModel:
    """Minutes by car from the straight-line distance: ``intercept + per_km × km``, fitted by least squares."""

    intercept: float
    per_km: float
    pairs: int
    mean_abs_error: float  # minutes, on the pairs it was fitted to
    max_abs_error: float
    loo_mean_abs_error: float  # minutes, each pair predicted by a line fitted to the others

    def minutes(self, km: float) -> int:
        fitted = self.intercept + self.per_km * km
        town = km * ROAD_FACTOR / TOWN_SPEED_KMH * 60
        return max(1, round(min(fitted, town)))


@dataclass(frozen=True)
class RoadTime:
    """One published driving time between two places (search/data/road_times.csv)."""

    start: str
    end: str
    km: float  # straight line between the two centres
    road_km: float
    minutes: float


def read_road_times(path: Path = ROAD_TIMES_CSV) -> list[RoadTime]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            RoadTime(
                start=row["from"],
                end=row["to"],
                km=distance_km(
                    float(row["from_lat"]), float(row["from_lon"]), float(row["to_lat"]), float(row["to_lon"])
                ),
                road_km=float(row["road_km"]),
                minutes=float(row["minutes"]),
            )
            for row in csv.DictReader(handle)
        ]


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    n = len(points)
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _y in points)
    return mean_y - slope * mean_x, slope


def fit_travel_model(times: Sequence[RoadTime]) -> TravelModel:
    points = [(t.km, t.minutes) for t in times]
    intercept, per_km = _fit(points)
    errors = [abs(intercept + per_km * x - y) for x, y in points]
    loo = []
    for i, (x, y) in enumerate(points):
        a, b = _fit(points[:i] + points[i + 1 :])
        loo.append(abs(a + b * x - y))
    return TravelModel(
        intercept=intercept,
        per_km=per_km,
        pairs=len(points),
        mean_abs_error=sum(errors) / len(errors),
        max_abs_error=max(errors),
        loo_mean_abs_error=sum(loo) / len(loo),
    )


@functools.cache
def travel_model() -> TravelModel:
    return fit_travel_model(read_road_times())


def travel_minutes(km: float) -> int:
    """An estimate by car from the straight-line distance (travel_model); never shown without saying so."""
    return travel_model().minutes(km)


def rounded_minutes(minutes: int) -> int:
    """What the page shows: to 5 minutes (an estimate must not look precise), at least 5."""
    return max(5, 5 * round(minutes / 5))


def format_travel_time(minutes: int) -> str:
    """'± 1 h 50 min' / '± 1 u 50 min', '± 25 min': rounded, and marked as an estimate by the ±."""
    shown = rounded_minutes(minutes)
    hours, rest = divmod(shown, 60)
    if not hours:
        return _("± %(minutes)s min") % {"minutes": rest}
    if not rest:
        return _("± %(hours)s h") % {"hours": hours}
    return _("± %(hours)s h %(minutes)s min") % {"hours": hours, "minutes": rest}


# --- ranking (pure: no database) ----------------------------------------------------------------


class Rankable(Protocol):
    """What the ranking needs to know of a listed location."""

    @property
    def travel_minutes(self) -> int: ...
    @property
    def distance_km(self) -> float: ...
    @property
    def state(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def region_key(self) -> object: ...


R = TypeVar("R", bound=Rankable)


@dataclass(frozen=True)
class RankingRule:
    """The order of the results, configurable (settings.SEARCH_TIME_BANDS, SEARCH_OTHER_REGIONS_WITHIN_MINUTES).

    1. The nearest location that offers the care, whatever its state ("Nearest").
    2. Then by travel-time band (up to 30 min, up to 60, up to 90, further): within a band, those
       with room before those with no free bed, each by travel time. A place with room never
       passes a nearer one of an earlier band just for having room.
    3. Admission stops last, by travel time.
    Listed: the home region's locations, other regions' within ``other_regions_within`` minutes,
    and, when none of those has room, every other location with room.
    """

    bands: tuple[int, ...] = (30, 60, 90)
    other_regions_within: int = 30

    @classmethod
    def from_settings(cls) -> RankingRule:
        bands = tuple(sorted(int(b) for b in getattr(settings, "SEARCH_TIME_BANDS", (30, 60, 90))))
        within = int(getattr(settings, "SEARCH_OTHER_REGIONS_WITHIN_MINUTES", bands[0]))
        return cls(bands=bands, other_regions_within=within)

    def band(self, minutes: int) -> int:
        """0 for the first band, len(bands) beyond the last."""
        return next((i for i, limit in enumerate(self.bands) if minutes <= limit), len(self.bands))

    def band_label(self, index: int) -> str:
        if index == 0:
            return _("within %(minutes)s min") % {"minutes": self.bands[0]}
        if index < len(self.bands):
            return _("%(low)s to %(high)s min") % {"low": self.bands[index - 1], "high": self.bands[index]}
        return _("more than %(minutes)s min") % {"minutes": self.bands[-1]}

    def describe(self) -> str:
        """The order in words, for the page's heading note and the API."""
        bands = ", ".join(self.band_label(i) for i in range(len(self.bands) + 1))
        return _(
            "First the nearest place that offers this care, whatever its state. Then by estimated travel time "
            "in bands (%(bands)s): within each band places with room before places without a free bed, each "
            "nearest first. Admission stops come last."
        ) % {"bands": bands}

    def order(self, candidates: Sequence[R]) -> list[R]:
        """Nearest first, then the rule above. Pure: the same input always gives the same order."""
        if not candidates:
            return []
        by_distance = sorted(candidates, key=lambda c: (c.travel_minutes, c.distance_km, c.name))
        nearest, rest = by_distance[0], by_distance[1:]
        rest.sort(
            key=lambda c: (
                c.state == State.STOP,
                self.band(c.travel_minutes),
                STATE_ORDER[c.state],
                c.travel_minutes,
                c.distance_km,
                c.name,
            )
        )
        return [nearest, *rest]

    def listed(self, candidates: Sequence[R], home: object) -> tuple[list[R], bool, bool]:
        """(the locations to list, whether the home region's listed ones have room, whether others were added)."""
        if not candidates:
            return [], False, False
        nearest = min(candidates, key=lambda c: (c.travel_minutes, c.distance_km, c.name))
        near = [
            c
            for c in candidates
            if c.region_key == home or c is nearest or c.travel_minutes <= self.other_regions_within
        ]
        has_room = any(c.state == State.ROOM for c in near)
        if has_room:
            return near, True, False
        listed = {id(c) for c in near}
        beyond = [c for c in candidates if id(c) not in listed and c.state == State.ROOM]
        return near + beyond, False, bool(beyond)


def home_region_key(point: tuple[float, float], acute: Sequence[tuple[float, float, object]]) -> object | None:
    """The region of the acute obstetric location nearest to the point: the search's "home" region."""
    if not acute:
        return None
    lat, lon = point
    return min(acute, key=lambda row: distance_km(lat, lon, row[0], row[1]))[2]


# --- the search ---------------------------------------------------------------------------------


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
    obstetric: list[Unit] = field(default_factory=list)  # mother: the obstetric units that count
    neonatal: list[Unit] = field(default_factory=list)  # baby: the neonatal units that count (below term)
    obstetric_state: str = State.ROOM
    neonatal_state: str | None = None
    nearest: bool = False
    band: int = 0
    band_label: str = ""

    @property
    def name(self) -> str:
        return self.location.name

    @property
    def region_key(self) -> object:
        return self.location.region_id

    @property
    def has_room(self) -> bool:
        return self.state == State.ROOM

    @property
    def in_stop(self) -> bool:
        return self.state == State.STOP

    @property
    def far(self) -> bool:
        return self.travel_minutes > FAR_MINUTES

    @property
    def travel_time(self) -> str:
        return format_travel_time(self.travel_minutes)

    @property
    def phone_href(self) -> str:
        return self.location.phone_href


@dataclass
class SearchResult:
    origin: Origin
    requirement: Requirement
    region: Region | None  # the search's home region: from the origin, unless one was asked for
    results: list[LocationResult]
    region_has_room: bool
    beyond_region: bool  # results from other regions were added because the region has no room
    rule: RankingRule = field(default_factory=RankingRule)
    region_from_origin: bool = True

    @property
    def location_ids(self) -> list[int]:
        return sorted(r.location.pk for r in self.results)

    @property
    def nearest(self) -> LocationResult | None:
        return self.results[0] if self.results else None


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
    ranking: RankingRule | None = None,
) -> SearchResult:
    """Locations that offer the required care for a client at ``origin``, in the order of RankingRule.

    The home region is the region of the acute obstetric location nearest to the origin (never
    the searching user's account), unless ``region`` is given. Nothing is hidden for being full,
    stopped or out of date; those are marked.
    """
    if care not in CareType.values:
        raise ValueError(f"unknown care type {care!r}")
    requirement = requirement_for(care=care, weeks=gestational_weeks, rules=rules)
    ranking = ranking or RankingRule.from_settings()
    now = now or timezone.now()
    candidates: list[LocationResult] = []
    acute: list[tuple[float, float, object]] = []
    locations: dict[int, Location] = {}
    # Every active location: the requirement below decides, unit by unit, with the one obstetric rule.
    for row in locations_with_units(obstetric_only=False):
        location = row.location
        locations[location.pk] = location
        if any(u.kind == Unit.Kind.DELIVERY_SUITE and u.is_obstetric_at(location) for u in row.units):
            acute.append((location.latitude, location.longitude, location.region_id))
        obstetric = [u for u in row.units if u.kind in requirement.obstetric_kinds and u.is_obstetric_at(location)]
        neonatal = [u for u in row.units if u.kind in requirement.neonatal_kinds]
        if not obstetric or (requirement.neonatal_kinds and not neonatal):
            continue
        obstetric_state = _group_state(obstetric)
        neonatal_state = _group_state(neonatal) if neonatal else None
        states = [obstetric_state] + ([neonatal_state] if neonatal_state else [])
        relevant = in_board_order(obstetric + neonatal)
        km = distance_km(origin.latitude, origin.longitude, location.latitude, location.longitude)
        candidates.append(
            LocationResult(
                location=location,
                distance_km=km,
                travel_minutes=travel_minutes(km),
                units=relevant,
                state=max(states, key=lambda state: STATE_ORDER[state]),
                in_region=True,
                stale=any(u.is_stale(now) for u in relevant),
                oldest_confirmed_at=min(u.confirmed_at for u in relevant),
                obstetric=in_board_order(obstetric),
                neonatal=in_board_order(neonatal),
                obstetric_state=obstetric_state,
                neonatal_state=neonatal_state,
            )
        )
    from_origin = region is None
    if region is None:
        key = home_region_key((origin.latitude, origin.longitude), acute)
        region = next((loc.region for loc in locations.values() if loc.region_id == key), None)
    home = region.pk if region is not None else None
    listed, region_has_room, beyond = ranking.listed(candidates, home)
    results = ranking.order(listed)
    for index, result in enumerate(results):
        result.in_region = result.location.region_id == home
        result.nearest = index == 0
        result.band = ranking.band(result.travel_minutes)
        result.band_label = ranking.band_label(result.band)
    return SearchResult(
        origin=origin,
        requirement=requirement,
        region=region,
        results=results,
        region_has_room=region_has_room,
        beyond_region=beyond,
        rule=ranking,
        region_from_origin=from_origin,
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
        "region_from_origin": result.region_from_origin,
        "region_has_room": result.region_has_room,
        "beyond_region": result.beyond_region,
        "ranking_rule": result.rule.describe(),
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
                "nearest": r.nearest,
                "obstetric_state": r.obstetric_state,
                "neonatal_state": r.neonatal_state,
                "in_region": r.in_region,
                "distance_km": round(r.distance_km, 1),
                "travel_minutes_estimate": r.travel_minutes,
                "travel_time_label": r.travel_time,
                "travel_band": r.band_label,
                "far": r.far,
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
    model = travel_model()
    return _(
        "Travel times are estimates by car without traffic, from the straight-line distance, fitted to "
        "published driving times between %(pairs)s pairs of Dutch cities (typically %(error)s min off)."
    ) % {"pairs": model.pairs, "error": f"{model.loo_mean_abs_error:.0f}"}
