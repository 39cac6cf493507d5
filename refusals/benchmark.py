"""Regions side by side (docs/refusals.md, "Region benchmark").

For one period and every ROAZ region: refusals and the share of them while the board showed room
(from the rollups), refusals per 100 staffed delivery-suite and birth-centre bed-days
(time-weighted from the capacity history), per 1,000 births where a births file for the year was
loaded (``manage.py load_births``), admission stops started and unit-hours in stop. A national row
sums them.

Refusal counts under 5 of any region other than the viewer's own (``must_suppress``), and of
every region in the exports, are suppressed (``refusals.outcomes.suppress``), together with the
rates and shares computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from capacity.selectors import staffed_bed_days
from hospitals.models import Location, Region, RegionBirths, User
from refusals.outcomes import Cell, is_small, must_suppress, suppress
from refusals.statistics import Period, region_counts, stop_totals


@dataclass
class RegionRow:
    region: Region | None  # None: the national row
    name: str
    refusals: Cell
    room: Cell
    bed_days: float
    births: int | None  # in the period, pro rata of the year's births; None: no births file
    stops: int
    stop_hours: float
    own: bool = False

    @property
    def room_share(self) -> float | None:
        """Percentage of refusals made while the board showed room; None when hidden or undefined."""
        if self.refusals.suppressed or self.room.suppressed or not self.refusals.count:
            return None
        return round(100 * self.room.count / self.refusals.count, 1)

    @property
    def per_100_bed_days(self) -> float | None:
        if self.refusals.suppressed or not self.bed_days:
            return None
        return round(100 * self.refusals.count / self.bed_days, 2)

    @property
    def per_1000_births(self) -> float | None:
        if self.refusals.suppressed or not self.births:
            return None
        return round(1000 * self.refusals.count / self.births, 1)


@dataclass
class Benchmark:
    period: Period
    rows: list[RegionRow] = field(default_factory=list)
    national: RegionRow | None = None
    suppressed: bool = True
    births_sources: list[str] = field(default_factory=list)


def births_in(period: Period) -> tuple[dict[int, float], list[str]]:
    """{region id: births in the period} pro rata of each year's loaded births, and their sources.

    A region counts only when every year the period touches is loaded."""
    years = range(period.start.year, period.last_day.year + 1)
    loaded: dict[int, dict[int, tuple[int, str]]] = {}
    for region_id, year, births, source in RegionBirths.objects.filter(year__in=years).values_list(
        "region_id", "year", "births", "source"
    ):
        loaded.setdefault(region_id, {})[year] = (births, source)
    out: dict[int, float] = {}
    sources: set[str] = set()
    for region_id, per_year in loaded.items():
        if any(y not in per_year for y in years):
            continue
        total = 0.0
        for year in years:
            new_year, next_year = date(year, 1, 1), date(year + 1, 1, 1)
            days = (min(period.end, next_year) - max(period.start, new_year)).days
            total += per_year[year][0] * days / (next_year - new_year).days
            sources.add(per_year[year][1])
        out[region_id] = total
    return out, sorted(sources)


def benchmark(period: Period, *, viewer: User | None, now: datetime | None = None) -> Benchmark:
    """Every region for the period; exact small counts only in the viewer's own region's row (a
    coordinator's). ``viewer=None``: everything suppressed (the exports)."""
    now = now or timezone.now()
    start, end = period.bounds()
    until = min(end, now)
    counts = region_counts(period)
    beds = staffed_bed_days(start, until)
    births, sources = births_in(period)
    started, seconds = stop_totals(Location.objects.all(), start, end, until)
    region_of = dict(Location.objects.values_list("pk", "region_id"))
    stops: dict[int, int] = {}
    stop_seconds: dict[int, float] = {}
    for loc, n in started.items():
        stops[region_of[loc]] = stops.get(region_of[loc], 0) + n
    for loc, secs in seconds.items():
        stop_seconds[region_of[loc]] = stop_seconds.get(region_of[loc], 0.0) + secs

    result = Benchmark(period=period, suppressed=True, births_sources=sources)
    for region in Region.objects.order_by("name"):
        n, room = counts.get(region.pk, (0, 0))
        b = births.get(region.pk)
        result.rows.append(
            RegionRow(
                region=region,
                name=region.name,
                refusals=Cell(region.code, region.name, n),
                room=Cell(region.code, region.name, room),
                bed_days=round(beds.get(region.pk, 0.0), 1),
                births=round(b) if b is not None else None,
                stops=stops.get(region.pk, 0),
                stop_hours=round(stop_seconds.get(region.pk, 0.0) / 3600, 1),
                own=viewer is not None and not must_suppress(viewer, region),
            )
        )
    all_births = [r.births for r in result.rows]
    result.national = RegionRow(
        region=None,
        name="",
        refusals=Cell("national", "", sum(r.refusals.count for r in result.rows)),
        room=Cell("national", "", sum(r.room.count for r in result.rows)),
        bed_days=round(sum(r.bed_days for r in result.rows), 1),
        births=sum(b for b in all_births if b is not None) if all_births and None not in all_births else None,
        stops=sum(r.stops for r in result.rows),
        stop_hours=round(sum(r.stop_hours for r in result.rows), 1),
    )
    # Suppress what others may not see exactly: every row but the viewer's own. The national total
    # is shown, so suppress() also hides a second region where one alone could be worked out.
    others = [r for r in result.rows if not r.own]
    suppress([r.refusals for r in others], total_shown=True)
    suppress([r.room for r in others], total_shown=True)
    for cell in (result.national.refusals, result.national.room):
        cell.suppressed = is_small(cell.count)
    result.suppressed = bool(others)
    return result
