"""The region's kraamzorg figures, as counts (docs/kraamzorg.md, "The region's view").

* Shortages per area (municipality, or the PC4 areas of one municipality) × due week, with the
  hours short, from the rollup ``ShortageWeekly`` (kraamzorg/aggregation.py); the vulnerable
  yes / no / unknown counts and the reasons over the same weeks.
* Coverage: for each area the region's kraamzorg organisations serve (their ``WorkArea`` PC4s;
  a municipality is the set of its PC4 areas in the postcode reference data) and each of the
  coming twelve due weeks, how many organisations serving it have intake room, how many have
  none, and for how many it is unknown (a week never filled in, or stale).

Plain counts: what may be shown to whom (small-number suppression) is decided by the page that
shows them (refusals/kraamzorg_statistics.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from core.geo import distance_km
from core.time import ZONE
from hospitals.models import Location, Organisation, Postcode, Region
from kraamzorg.models import WEEKS_AHEAD, IntakeWeek, ShortageWeekly, WorkArea, monday_of
from kraamzorg.selectors import is_stale

# The default period of the shortage figures: the last 13 due weeks and the coming 12.
WEEKS_BACK = 13
# The longest period one page shows (a year of due weeks, and one more).
MAX_WEEKS = 53
# The label of PC4s a work area names that the postcode reference data does not know.
UNKNOWN_MUNICIPALITY = ""


def this_monday(now: datetime | None = None) -> date:
    return monday_of((now or timezone.now()).astimezone(ZONE).date())


def default_weeks(now: datetime | None = None) -> tuple[date, date]:
    """The first and last Monday shown by default: 13 weeks back, this week and the next 11."""
    monday = this_monday(now)
    return monday - timedelta(weeks=WEEKS_BACK), monday + timedelta(weeks=WEEKS_AHEAD - 1)


def mondays(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


@dataclass
class ShortageGrid:
    """Shortages per area × due week: ``counts[(area, week)] = (shortages, hours short)``."""

    weeks: list[date]
    areas: list[str]  # municipality names, or the PC4s of the municipality drilled into
    counts: dict[tuple[str, date], tuple[int, int]] = field(default_factory=dict)
    vulnerable: dict[str, int] = field(default_factory=dict)  # yes / no / unknown
    reasons: dict[str, int] = field(default_factory=dict)


def region_municipalities(region: Region) -> list[str]:
    """The municipalities of the region: of its organisations' work areas, and where it registered shortages."""
    served = Postcode.objects.filter(pk__in=_region_pc4s(region)).values_list("municipality", flat=True)
    registered = ShortageWeekly.objects.filter(region=region).values_list("municipality", flat=True)
    return sorted(set(served) | set(registered))


def _region_pc4s(region: Region) -> set[str]:
    return set(
        WorkArea.objects.filter(
            organisation__region=region, organisation__kind=Organisation.Kind.KRAAMZORG
        ).values_list("pc4", flat=True)
    )


def vsv_pc4s(region: Region, vsv_id: int) -> set[str]:
    """The postcode areas of one VSV of the region: those (served in the region, or with shortages
    there) whose nearest active location with a VSV in the region belongs to it. The rule by which a
    practice without a chosen VSV gets one (``hospitals.selectors.practice_vsv_ids``); no source
    gives a VSV's postcode areas."""
    places = list(
        Location.objects.filter(region=region, vsv__isnull=False, active=True).values_list(
            "latitude", "longitude", "vsv_id"
        )
    )
    if not places:
        return set()
    candidates = _region_pc4s(region) | set(
        ShortageWeekly.objects.filter(region=region).values_list("pc4", flat=True).distinct()
    )
    return {
        pc4
        for pc4, lat, lon in Postcode.objects.filter(pk__in=candidates).values_list("pk", "latitude", "longitude")
        if min(places, key=lambda c: distance_km(lat, lon, c[0], c[1]))[2] == vsv_id
    }


def regions_covered_by(organisation_id: int) -> set[int]:
    """The regions whose coverage map counts this organisation: those with a kraamzorg organisation
    serving one of its PC4s (its own region too, when it serves any). One query."""
    pc4s = WorkArea.objects.filter(organisation_id=organisation_id).values("pc4")
    return set(
        WorkArea.objects.filter(pc4__in=pc4s, organisation__kind=Organisation.Kind.KRAAMZORG)
        .values_list("organisation__region_id", flat=True)
        .distinct()
    )


def shortage_grid(
    region: Region, first: date, last: date, municipality: str | None = None, within: set[str] | None = None
) -> ShortageGrid:
    """The shortages the region registered for due weeks ``first`` to ``last`` (Mondays, inclusive).

    Rows: every municipality of the region (``region_municipalities``), or with ``municipality``
    its PC4 areas (served or with shortages). ``within``: only these PC4s (a VSV's, ``vsv_pc4s``).
    Three grouped reads of the rollup.
    """
    weeks = mondays(first, last)
    rows = ShortageWeekly.objects.filter(region=region, due_week__gte=first, due_week__lte=last).order_by()
    if within is not None:
        rows = rows.filter(pc4__in=within)
    if municipality is not None:
        rows = rows.filter(municipality=municipality)
        pc4s = set(
            Postcode.objects.filter(municipality=municipality, pk__in=_region_pc4s(region)).values_list("pk", flat=True)
        )
        area_field = "pc4"
    else:
        pc4s = set()
        area_field = "municipality"
    counts = {
        (area, week): (n, hours)
        for area, week, n, hours in rows.values_list(area_field, "due_week").annotate(
            n=Sum("count"), hours=Sum("hours_short")
        )
    }
    areas = {area for area, _w in counts}
    if within is not None:
        pc4s &= within
        served = set(Postcode.objects.filter(pk__in=within).values_list("municipality", flat=True))
    else:
        served = set(region_municipalities(region))
    areas |= pc4s if municipality is not None else served
    vulnerable = dict(rows.values_list("vulnerable").annotate(n=Sum("count")).values_list("vulnerable", "n"))
    reasons = dict(rows.values_list("reason").annotate(n=Sum("count")).values_list("reason", "n"))
    return ShortageGrid(weeks=weeks, areas=sorted(areas), counts=counts, vulnerable=vulnerable, reasons=reasons)


@dataclass(frozen=True)
class CoverageCell:
    """One area in one due week: of the organisations serving it, how many have intake room."""

    room: int
    no_room: int
    unknown: int

    @property
    def organisations(self) -> int:
        return self.room + self.no_room + self.unknown

    @property
    def state(self) -> str:
        """``room`` (at least one), ``none`` (every one said no), ``unknown`` (none said yes, some unknown)."""
        if self.room:
            return "room"
        return "unknown" if self.unknown else "none"


@dataclass
class CoverageRow:
    area: str  # a municipality, or a PC4
    organisations: int
    cells: list[CoverageCell]


@dataclass
class Coverage:
    weeks: list[date]
    rows: list[CoverageRow]


def has_room(row: IntakeWeek | None, now: datetime) -> bool | None:
    """True: intake room (open or limited, families > 0, not stale); False: no room; None: unknown."""
    if row is None or is_stale(row, now):
        return None
    return row.status in (IntakeWeek.Status.OPEN, IntakeWeek.Status.LIMITED) and row.families > 0


def coverage(
    region: Region, municipality: str | None = None, now: datetime | None = None, within: set[str] | None = None
) -> Coverage:
    """The region's work areas × the coming twelve due weeks.

    Areas are the PC4s the region's kraamzorg organisations serve, grouped per municipality (or,
    with ``municipality``, that municipality's PC4s one by one). Each cell counts every kraamzorg
    organisation serving the area, of this region or a neighbouring one: a family there can be
    taken in by any of them. Four reads, whatever the number of areas.
    """
    now = now or timezone.now()
    monday = this_monday(now)
    weeks = [monday + timedelta(weeks=i) for i in range(WEEKS_AHEAD)]
    pc4s = _region_pc4s(region)
    if within is not None:
        pc4s &= within
    municipality_of = dict(Postcode.objects.filter(pk__in=pc4s).values_list("pk", "municipality"))
    if municipality is not None:
        pc4s = {p for p in pc4s if municipality_of.get(p, UNKNOWN_MUNICIPALITY) == municipality}
    serving: dict[str, set[int]] = defaultdict(set)
    for pc4, organisation_id in WorkArea.objects.filter(
        pc4__in=pc4s, organisation__kind=Organisation.Kind.KRAAMZORG
    ).values_list("pc4", "organisation_id"):
        area = pc4 if municipality is not None else municipality_of.get(pc4, UNKNOWN_MUNICIPALITY)
        serving[area].add(organisation_id)
    organisations = set().union(*serving.values()) if serving else set()
    stored = {
        (row.organisation_id, row.week): row
        for row in IntakeWeek.objects.filter(organisation_id__in=organisations, week__in=weeks)
    }
    rows = []
    for area in sorted(serving):
        cells = []
        for week in weeks:
            states = [has_room(stored.get((org, week)), now) for org in serving[area]]
            cells.append(CoverageCell(room=states.count(True), no_room=states.count(False), unknown=states.count(None)))
        rows.append(CoverageRow(area=area, organisations=len(serving[area]), cells=cells))
    return Coverage(weeks=weeks, rows=rows)
