"""Reads of capacity: one selector of locations with their units serves the board, the push,
the search, the API, the exports and refusals; the obstetric rule lives on ``Unit``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT

from capacity.models import BoardToken, CapacityEvent, Unit
from hospitals.models import Location, Region, User


@dataclass
class LocationUnits:
    """A location with its units in board order (``Unit.KIND_ORDER``)."""

    location: Location
    units: list[Unit]
    is_favourite: bool = False


def obstetric_locations() -> QuerySet[Location]:
    """Active locations with a unit a client in labour can be brought to (``Unit.obstetric_filter``):
    a delivery suite where the location offers 24/7 obstetrics, or a birth centre.

    The board, the search and the refusal form know exactly these locations.
    """
    obstetric = Unit.objects.filter(Unit.obstetric_filter(), location=OuterRef("pk"))
    return Location.objects.filter(active=True).filter(Exists(obstetric))


def locations_with_units(
    *,
    region: Region | int | None = None,
    location_ids: Iterable[int] | None = None,
    obstetric_only: bool = True,
) -> list[LocationUnits]:
    """Locations (of one region, or all when None) with their units in board order, in one query per table.

    ``obstetric_only``: only the locations of ``obstetric_locations`` (the board, search and push);
    otherwise every active location (the API and the standard exports list them all).
    """
    qs = obstetric_locations() if obstetric_only else Location.objects.filter(active=True)
    if region is not None:
        qs = qs.filter(region=region)
    if location_ids is not None:
        qs = qs.filter(pk__in=list(location_ids))
    locations = list(qs.select_related("region", "organisation").order_by("region__name", "city", "name"))
    # One query for all their units, grouped here: cheaper than a prefetch, which clones a
    # queryset per location (this runs for every board page, snapshot and search).
    units: dict[int, list[Unit]] = defaultdict(list)
    for unit in Unit.objects.filter(location_id__in=[location.pk for location in locations]).order_by():
        units[unit.location_id].append(unit)
    rows = []
    for location in locations:
        own = units.get(location.pk, [])
        for unit in own:
            unit.location = location
        rows.append(LocationUnits(location, in_board_order(own)))
    return rows


_KIND_RANK: dict[str, int] = {kind: i for i, kind in enumerate(Unit.KIND_ORDER)}


def in_board_order(units: Iterable[Unit]) -> list[Unit]:
    return sorted(units, key=lambda u: _KIND_RANK[u.kind])


def board_location(location_id: int) -> LocationUnits | None:
    """One location's row for the live push, whatever its state (an inactive one is shown as such).

    One query: the push renders it after every change.
    """
    units = list(
        Unit.objects.filter(location_id=location_id)
        .select_related("location__region", "location__organisation")
        .order_by()  # sorted into board order below
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
    return LocationUnits(location, in_board_order(units))


RowVersion = tuple[int, int]


def row_version(units: Iterable[Unit]) -> RowVersion:
    """A location row's version: grows with every change of its units' figures or confirmations.

    (sum of the units' versions, newest confirmation in µs). Both only grow, so of two reads of
    one location the later one never has the lower version; the live push and the board's
    snapshot carry it to tell which of two renditions of a row is newer (capacity/live.py).
    """
    units = list(units)
    confirmed = max((unit.confirmed_at for unit in units), default=None)
    return (
        sum(unit.version for unit in units),
        int(confirmed.timestamp() * 1_000_000) if confirmed is not None else 0,
    )


def favourites_first(rows: list[LocationUnits], user: User) -> list[LocationUnits]:
    favourite_ids = set(user.favourite_locations.values_list("id", flat=True))
    for row in rows:
        row.is_favourite = row.location.pk in favourite_ids
    return sorted(rows, key=lambda row: not row.is_favourite)


def units_for_staff(user: User) -> QuerySet[Unit]:
    """The units a hospital staff member may change: those of their own locations."""
    return (
        Unit.objects.filter(location__in=user.locations.all())
        .select_related("location")
        .order_by("location__name", "kind")
    )


def regions_with_locations() -> QuerySet[Region]:
    return Region.objects.filter(locations__active=True).distinct().order_by("name")


def last_change(rows: Iterable[LocationUnits]) -> datetime | None:
    """When a figure or status on this board last changed (a confirmation changes nothing)."""
    return max((unit.updated_at for row in rows for unit in row.units), default=None)


def unit_kinds_shown(rows: Iterable[LocationUnits]) -> list[tuple[str, str]]:
    """(kind, label) of the unit types these rows have, in board order: the grid's columns."""
    present = {unit.kind for row in rows for unit in row.units}
    return [(kind.value, str(kind.label)) for kind in Unit.KIND_ORDER if kind in present]


def locations_without_phone(rows: Iterable[LocationUnits]) -> list[Location]:
    """The board's locations that midwives cannot call from it: no delivery-suite number known."""
    return [row.location for row in rows if not row.location.phone_e164]


def board_token_any(raw: str) -> BoardToken | None:
    """The wall-screen link with this secret, revoked or not (``BoardToken.lookup``: active only)."""
    return BoardToken.objects.filter(token_hash=BoardToken.hash(raw)).select_related("region").first()


# --- what refusals read of capacity -------------------------------------------------------


def board_snapshot(location_id: int, *, now: datetime) -> tuple[dict[str, object], bool]:
    """What the board showed for the location now, and whether that looked like room.

    "Room" means an obstetric unit (``Unit.is_obstetric_at``, as in the search) that was not
    in an admission stop, had at least one bed free and was not out of date.
    """
    units = []
    room = False
    location = Location.objects.filter(pk=location_id).first()
    for unit in Unit.objects.filter(location_id=location_id).order_by("kind"):
        stale = unit.is_stale(now)
        units.append(
            {
                "kind": unit.kind,
                "status": unit.status,
                "available": unit.available,
                "staffed_total": unit.staffed_total,
                "confirmed_at": unit.confirmed_at.isoformat(),
                "minutes_since_confirmed": int((now - unit.confirmed_at).total_seconds() // 60),
                "stale": stale,
                "version": unit.version,
            }
        )
        if (
            location is not None
            and unit.is_obstetric_at(location)
            and unit.status != Unit.Status.STOP
            and unit.available >= 1
            and not stale
        ):
            room = True
    return {"at": now.isoformat(), "units": units}, room


def obstetric_stops() -> list[tuple[int, int]]:
    """(region id, location id) of every obstetric unit in admission stop at an active location now."""
    return list(
        Unit.objects.filter(Unit.obstetric_filter(), status=Unit.Status.STOP, location__active=True).values_list(
            "location__region_id", "location_id"
        )
    )


def _value_at(key: str, at: datetime) -> Subquery:
    """The unit's ``key`` (status, staffed_total, ...) just before ``at``: the ``after`` of its last
    event before then that holds it, read through the (unit, at) index, as text."""
    return Subquery(
        CapacityEvent.objects.filter(unit=OuterRef("pk"), at__lt=at, after__has_key=key)
        .order_by("-at", "-id")
        .values(v=KT(f"after__{key}"))[:1]
    )


def units_in_stop_at(locations: QuerySet[Location], at: datetime) -> dict[int, int]:
    """{unit id: location id} of these locations' units in admission stop at ``at``.

    A unit's status at a moment is the status after its last event before it: one indexed
    (unit, at) look-up per unit, however long the history.
    """
    return dict(
        Unit.objects.filter(location__in=locations)
        .annotate(status_then=_value_at("status", at))
        .filter(status_then="stop")
        .values_list("pk", "location_id")
    )


def stop_transitions(
    locations: QuerySet[Location], *, before: datetime, since: datetime | None = None
) -> list[tuple[int, int, datetime, str]]:
    """Every start and end of an admission stop of these locations' units in [since, before).

    (unit id, location id, when, status after) in order per unit: a start has status "stop"
    after and something else before; an end the reverse. ``locations`` stays a subquery.
    With ``since``, ``units_in_stop_at(locations, since)`` tells which stops were open then.
    """
    events = CapacityEvent.objects.filter(unit__location__in=locations, at__lt=before)
    if since is not None:
        events = events.filter(at__gte=since)
    return list(
        events.filter(
            (Q(after__status="stop") & ~Q(before__status="stop"))
            | (Q(before__status="stop") & ~Q(after__status="stop"))
        )
        .order_by("unit_id", "at", "id")
        .values_list("unit_id", "unit__location_id", "at", "after__status")
    )


# Units whose rooms a woman in labour is taken into: the denominator of the region benchmark.
OBSTETRIC_BED_KINDS = (Unit.Kind.DELIVERY_SUITE, Unit.Kind.BIRTH_CENTRE)


def staffed_bed_days(start: datetime, until: datetime) -> dict[int, float]:
    """{region id: staffed delivery-suite and birth-centre bed-days in [start, until)}, time-weighted.

    Each unit's staffed beds at ``start`` are the ``after`` of its last event before it (or the
    ``before`` of its first event after it; a unit without any history counts its current
    number); then every change of ``staffed_total`` within the period moves the level at its
    moment. Units count in the region of their location now.
    """
    if until <= start:
        return {}
    first_after = (
        CapacityEvent.objects.filter(unit=OuterRef("pk"), at__gte=start, before__has_key="staffed_total")
        .order_by("at", "id")
        .values(v=KT("before__staffed_total"))[:1]
    )
    level: dict[int, int] = {}
    region_of: dict[int, int] = {}
    for pk, region_id, current, then, first in (
        Unit.objects.filter(kind__in=OBSTETRIC_BED_KINDS, location__active=True)
        .annotate(then=_value_at("staffed_total", start), first=Subquery(first_after))
        .values_list("pk", "location__region_id", "staffed_total", "then", "first")
    ):
        level[pk] = int(then if then is not None else first if first is not None else current)
        region_of[pk] = region_id
    changes = (
        CapacityEvent.objects.filter(
            unit__kind__in=OBSTETRIC_BED_KINDS, unit__location__active=True, at__gte=start, at__lt=until
        )
        .annotate(b=KT("before__staffed_total"), a=KT("after__staffed_total"))
        .filter(a__isnull=False, b__isnull=False)
        .exclude(b=F("a"))
        .order_by("unit_id", "at", "id")
        .values_list("unit_id", "at", "a")
    )
    since = dict.fromkeys(level, start)
    bed_seconds: dict[int, float] = {}
    for unit_id, at, after in changes:
        if unit_id not in level:
            continue
        bed_seconds[unit_id] = bed_seconds.get(unit_id, 0.0) + level[unit_id] * (at - since[unit_id]).total_seconds()
        level[unit_id], since[unit_id] = int(after), at
    out: dict[int, float] = {}
    for unit_id, beds in level.items():
        total = bed_seconds.get(unit_id, 0.0) + beds * (until - since[unit_id]).total_seconds()
        out[region_of[unit_id]] = out.get(region_of[unit_id], 0.0) + total / 86400
    return out
