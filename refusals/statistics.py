"""Statistics selectors: refusals per region and period, read from the rollups.

Totals and breakdowns come from the rollups (withdrawn refusals are not in them): a period's
whole months from ``RefusalMonthly``, the days at its edges from ``RefusalDaily``. The
weekday × hour heatmap for a period is counted from the refusals table itself, because the
hourly rollup covers all time. Admission stops come from the capacity history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from capacity.selectors import stop_transitions, units_in_stop_at
from core.time import ZONE
from hospitals.models import Location, Region
from refusals.models import Alert, Refusal, RefusalDaily, RefusalMonthly

PERIOD_KINDS = ("quarter", "month", "week")


@dataclass(frozen=True)
class Period:
    """A calendar quarter, month or ISO week (Monday to Sunday); ``end`` is exclusive."""

    kind: str
    start: date
    end: date

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if kind == "quarter":
            start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
            end = _add_months(start, 3)
        elif kind == "month":
            start = day.replace(day=1)
            end = _add_months(start, 1)
        elif kind == "week":
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=7)
        else:
            raise ValueError(kind)
        return cls(kind, start, end)

    @classmethod
    def last_full_quarter(cls, today: date) -> Period:
        return cls.containing("quarter", cls.containing("quarter", today).start - timedelta(days=1))

    def previous(self) -> Period:
        return Period.containing(self.kind, self.start - timedelta(days=1))

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def whole(self) -> bool:
        """False for the first days of a period only (the comparison with a running period)."""
        return self == Period.containing(self.kind, self.start)

    @property
    def title(self) -> str:
        """The label, and for the first days of a period how many (in the active language)."""
        if self.whole:
            return self.label
        return ngettext("%(label)s, first %(days)d day", "%(label)s, first %(days)d days", self.days) % {
            "label": self.label,
            "days": self.days,
        }

    def days_done(self, today: date) -> int:
        """Days of this period up to and including today: all of them once it is over, 0 before it."""
        return max(0, min(self.days, (today - self.start).days + 1))

    def first_days(self, n: int) -> Period:
        """This period's first ``n`` days (all of it when it is not longer)."""
        return Period(self.kind, self.start, self.start + timedelta(days=min(n, self.days)))

    def year_earlier(self) -> Period:
        """The same period a year before: the same quarter or month, or the ISO week 52 weeks earlier."""
        if self.kind == "week":
            return Period.containing("week", self.start - timedelta(weeks=52))
        return Period.containing(self.kind, self.start.replace(year=self.start.year - 1))

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as aware datetimes, local (Dutch) midnight to midnight."""
        return (datetime.combine(self.start, time(), ZONE), datetime.combine(self.end, time(), ZONE))

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        iso = self.start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Filters:
    location_id: int | None = None
    vsv_id: int | None = None  # the refusing location's VSV (as the locations are now)
    reason: str = ""
    care_type: str = ""


@dataclass
class Statistics:
    region: Region
    period: Period
    filters: Filters
    total: int = 0
    # A running period is compared on equal terms: its days so far against the same number of
    # first days of the previous period and of the same period a year earlier (docs/refusals.md).
    days_done: int = 0
    compared: Period | None = None  # the previous period, or its first ``days_done`` days
    previous_total: int = 0
    year_earlier: Period | None = None
    year_earlier_total: int = 0
    board_showed_room: int = 0
    per_location: list[dict[str, Any]] = field(default_factory=list)
    per_vsv: list[dict[str, Any]] = field(default_factory=list)  # the refusing locations' VSVs
    per_reason: list[dict[str, Any]] = field(default_factory=list)
    per_care_type: list[dict[str, Any]] = field(default_factory=list)
    heatmap: list[dict[str, Any]] = field(default_factory=list)  # one row per weekday: label, counts[24], total
    stops: list[dict[str, Any]] = field(default_factory=list)

    @property
    def provisional(self) -> bool:
        """The period is still running (or has not begun): its figures will still grow."""
        return self.days_done < self.period.days

    @property
    def change(self) -> int:
        return self.total - self.previous_total

    @property
    def change_percent(self) -> float | None:
        if not self.previous_total:
            return None
        return round(100 * self.change / self.previous_total, 1)


def region_locations(region: Region) -> QuerySet[Location]:
    return Location.objects.filter(region=region).order_by("name")


RowKey = tuple[int, str, str]  # location_id, care_type, reason
Rows = dict[RowKey, tuple[int, int]]  # count, count_board_showed_room


def _split(start: date, end: date) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """[start, end) as whole calendar months (read from RefusalMonthly) and the days at its edges."""
    first = start if start.day == 1 else _add_months(start.replace(day=1), 1)
    last = end.replace(day=1)
    if first >= last:
        return None, [(start, end)]
    edges = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    return (first, last), edges


def filtered(qs: QuerySet[Any], filters: Filters) -> QuerySet[Any]:
    """Rollup rows or refusals narrowed by the filters (both have location_id, reason, care_type)."""
    if filters.location_id:
        qs = qs.filter(location_id=filters.location_id)
    if filters.vsv_id:
        qs = qs.filter(location_id__in=Location.objects.filter(vsv_id=filters.vsv_id).values("pk"))
    if filters.reason:
        qs = qs.filter(reason=filters.reason)
    if filters.care_type:
        qs = qs.filter(care_type=filters.care_type)
    return qs


def _period_rows(period: Period, **where: Any) -> list[QuerySet[Any]]:
    """The rollup rows that make up the period: its whole months, then its edge days (one query each)."""
    months, days = _split(period.start, period.end)
    out: list[QuerySet[Any]] = []
    if months:
        out.append(RefusalMonthly.objects.filter(month__gte=months[0], month__lt=months[1], **where))
    if days:
        within = Q()
        for a, b in days:
            within |= Q(day__gte=a, day__lt=b)
        out.append(RefusalDaily.objects.filter(within, **where))
    return out


def _sources(region: Region, period: Period, filters: Filters) -> list[QuerySet[Any]]:
    return [filtered(qs, filters) for qs in _period_rows(period, region=region)]


def _grouped(sources: list[QuerySet[Any]], *keys: str) -> dict[Any, tuple[int, int]]:
    """(count, while the board showed room) per value of ``keys``, summed over the sources."""
    out: dict[Any, tuple[int, int]] = {}
    for qs in sources:
        for *key, n, room in (
            qs.order_by().values_list(*keys).annotate(n=Sum("count"), room=Sum("count_board_showed_room"))
        ):
            group = tuple(key) if len(key) > 1 else key[0]
            before = out.get(group, (0, 0))
            out[group] = (before[0] + n, before[1] + room)
    return out


def rollup_rows(region: Region, period: Period, filters: Filters) -> Rows:
    """Refusals in the period per location × care type × reason: (count, while the board showed room)."""
    return _grouped(_sources(region, period, filters), "location_id", "care_type", "reason")


def rollup_total(region: Region, period: Period, filters: Filters) -> int:
    """Refusals in the period: one SUM per source, no grouping."""
    return sum(qs.aggregate(n=Sum("count"))["n"] or 0 for qs in _sources(region, period, filters))


def region_counts(period: Period) -> dict[int, tuple[int, int]]:
    """{region id: (refusals, while the board showed room)} in the period, every region, from the rollups."""
    return _grouped(_period_rows(period), "region_id")


def monthly_counts(region: Region, start: date, end: date, filters: Filters) -> dict[date, int]:
    """Refusals per calendar month from ``start`` to ``end`` (first days of months), from RefusalMonthly."""
    qs = filtered(RefusalMonthly.objects.filter(region=region, month__gte=start, month__lt=end), filters)
    rows = qs.order_by().values_list("month").annotate(n=Sum("count")).order_by("month")
    return {m: n for m, n in rows if n}


def statistics(region: Region, period: Period, filters: Filters, *, now: datetime | None = None) -> Statistics:
    now = now or timezone.now()
    result = Statistics(region=region, period=period, filters=filters)
    rows = rollup_rows(region, period, filters)
    done = period.days_done(timezone.localdate(now))
    length = done if 0 < done < period.days else period.days
    result.days_done = done
    result.compared = period.previous().first_days(length)
    result.year_earlier = period.year_earlier().first_days(length)
    result.previous_total = rollup_total(region, result.compared, filters)
    result.year_earlier_total = rollup_total(region, result.year_earlier, filters)

    per_location: dict[int, list[int]] = {}
    per_reason: dict[str, int] = {}
    per_care_type: dict[str, int] = {}
    for (loc, ct, rs), (n, room) in rows.items():
        result.total += n
        result.board_showed_room += room
        counts = per_location.setdefault(loc, [0, 0])
        counts[0] += n
        counts[1] += room
        per_reason[rs] = per_reason.get(rs, 0) + n
        per_care_type[ct] = per_care_type.get(ct, 0) + n
    # Names of just the locations in this period's rows (a location may since have moved
    # region); joining every refusal of the region to find them took seconds at 1M rows.
    names: dict[int, str] = {}
    vsv_of: dict[int, tuple[int, str]] = {}
    for loc, name, vsv_id, vsv_name in Location.objects.filter(
        id__in=[k for k, (n, _r) in per_location.items() if n]
    ).values_list("id", "name", "vsv_id", "vsv__name"):
        names[loc] = name
        if vsv_id:
            vsv_of[loc] = (vsv_id, vsv_name)
    result.per_location = sorted(
        (
            {"id": loc, "name": names.get(loc, "?"), "count": n, "room": room}
            for loc, (n, room) in per_location.items()
            if n
        ),
        key=lambda r: (-r["count"], r["name"]),
    )
    per_vsv: dict[tuple[int, str], list[int]] = {}
    for r in result.per_location:
        key = vsv_of.get(r["id"], (0, ""))
        counts = per_vsv.setdefault(key, [0, 0])
        counts[0] += r["count"]
        counts[1] += r["room"]
    result.per_vsv = sorted(
        (
            {"id": vsv_id or None, "name": name or str(_("no VSV known")), "count": n, "room": room}
            for (vsv_id, name), (n, room) in per_vsv.items()
        ),
        key=lambda r: (r["id"] is None, -r["count"], r["name"]),
    )
    reasons = dict(Refusal.Reason.choices)
    result.per_reason = [{"key": k, "name": str(reasons[k]), "count": per_reason.get(k, 0)} for k in reasons]
    care_types = dict(Refusal.CareType.choices)
    result.per_care_type = [
        {"key": k, "name": str(care_types[k]), "count": per_care_type.get(k, 0)} for k in care_types
    ]

    result.heatmap = heatmap(region, period, filters)
    result.stops = admission_stops(region, period, location_id=filters.location_id, vsv_id=filters.vsv_id, now=now)
    return result


WEEKDAYS = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


def heatmap(region: Region, period: Period, filters: Filters) -> list[dict[str, Any]]:
    """Refusals per weekday (Monday first) × hour, local time, counted from the refusals table."""
    start, end = period.bounds()
    qs = filtered(
        Refusal.objects.filter(region=region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True),
        filters,
    )
    grid = [[0] * 24 for _ in range(7)]
    rows = (
        qs.order_by()
        .annotate(wd=ExtractIsoWeekDay("occurred_at", tzinfo=ZONE), hr=ExtractHour("occurred_at", tzinfo=ZONE))
        .values("wd", "hr")
        .annotate(n=Count("id"))
    )
    for r in rows:
        grid[r["wd"] - 1][r["hr"]] = r["n"]
    return [{"weekday": i, "label": WEEKDAYS[i], "counts": grid[i], "total": sum(grid[i])} for i in range(7)]


def admission_stops(
    region: Region,
    period: Period,
    *,
    location_id: int | None = None,
    vsv_id: int | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Admission stops per location: how many started in the period, and their time in it.

    A stop starts with an event whose ``after.status`` is "stop" and ``before.status`` is
    not, and ends with the reverse. Durations are clipped to the period; a stop still open
    counts until now (or the period end, whichever is first).
    """
    now = now or timezone.now()
    start, end = period.bounds()
    until = min(end, now)
    locations = region_locations(region)
    if location_id:
        locations = locations.filter(pk=location_id)
    if vsv_id:
        locations = locations.filter(vsv_id=vsv_id)
    started, seconds = stop_totals(locations, start, end, until)
    out = []
    for loc in locations:
        if loc.pk in started or loc.pk in seconds:
            total = int(seconds.get(loc.pk, 0))
            out.append(
                {
                    "id": loc.pk,
                    "name": loc.name,
                    "count": started.get(loc.pk, 0),
                    "seconds": total,
                    "hours": round(total / 3600, 1),
                }
            )
    return out


def stop_totals(
    locations: QuerySet[Location], start: datetime, end: datetime, until: datetime
) -> tuple[dict[int, int], dict[int, float]]:
    """Per location: admission stops started in [start, end), and unit-seconds in stop up to ``until``."""
    # Stops open when the period began count from its start; the history before that is not read.
    open_at_start = units_in_stop_at(locations, start)
    transitions = stop_transitions(locations, since=start, before=end)
    started: dict[int, int] = {}
    seconds: dict[int, float] = {}
    open_since: dict[int, datetime] = dict.fromkeys(open_at_start, start)
    unit_location: dict[int, int] = dict(open_at_start)
    for unit_id, loc_id, at, after_status in transitions:
        unit_location[unit_id] = loc_id
        if after_status == "stop":
            if unit_id not in open_since:
                open_since[unit_id] = at
                if start <= at < end:
                    started[loc_id] = started.get(loc_id, 0) + 1
        elif unit_id in open_since:
            _add(seconds, loc_id, open_since.pop(unit_id), at, start, until)
    for unit_id, since in open_since.items():
        _add(seconds, unit_location[unit_id], since, until, start, until)
    return started, seconds


def _add(seconds: dict[int, float], loc_id: int, a: datetime, b: datetime, start: datetime, until: datetime) -> None:
    lo, hi = max(a, start), min(b, until)
    if hi > lo:
        seconds[loc_id] = seconds.get(loc_id, 0) + (hi - lo).total_seconds()


# --- Quarterly report ---------------------------------------------------------------------


@dataclass
class QuarterlyReport:
    """One region and quarter against the quarter before: the birth-care quarterly stop report."""

    current: Statistics
    previous: Statistics
    locations: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    care_types: list[dict[str, Any]]
    alerts: list[Any]
    vsvs: list[dict[str, Any]] = field(default_factory=list)  # per VSV of the refusing location

    @property
    def stops_started(self) -> int:
        return sum(r["count"] for r in self.current.stops)

    @property
    def previous_stops_started(self) -> int:
        return sum(r["count"] for r in self.previous.stops)

    @property
    def stop_hours(self) -> float:
        return round(sum(r["seconds"] for r in self.current.stops) / 3600, 1)

    @property
    def previous_stop_hours(self) -> float:
        return round(sum(r["seconds"] for r in self.previous.stops) / 3600, 1)


def _compare(current: list[dict[str, Any]], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    before = {r["key"]: r["count"] for r in previous}
    return [{**r, "previous": before.get(r["key"], 0), "change": r["count"] - before.get(r["key"], 0)} for r in current]


def quarterly_report(region: Region, period: Period, *, now: datetime | None = None) -> QuarterlyReport:
    if period.kind != "quarter":
        raise ValueError("a quarterly report needs a quarter")
    current = statistics(region, period, Filters(), now=now)
    # Of a running quarter, the same number of first days of the previous one.
    previous = statistics(region, current.compared or period.previous(), Filters(), now=now)
    before = {r["id"]: r["count"] for r in previous.per_location}
    stops = {r["id"]: r for r in current.stops}
    names = {r["id"]: r["name"] for r in [*current.per_location, *previous.per_location, *current.stops]}
    counts = {r["id"]: r for r in current.per_location}
    locations = [
        {
            "name": names[i],
            "count": counts[i]["count"] if i in counts else 0,
            "previous": before.get(i, 0),
            "change": (counts[i]["count"] if i in counts else 0) - before.get(i, 0),
            "room": counts[i]["room"] if i in counts else 0,
            "stops": stops[i]["count"] if i in stops else 0,
            "stop_hours": stops[i]["hours"] if i in stops else 0,
        }
        for i in names
    ]
    locations.sort(key=lambda r: (-r["count"], -r["stops"], r["name"]))
    start, end = period.bounds()
    return QuarterlyReport(
        current=current,
        previous=previous,
        locations=locations,
        reasons=_compare(current.per_reason, previous.per_reason),
        care_types=_compare(current.per_care_type, previous.per_care_type),
        vsvs=_compare(
            [{**r, "key": r["id"]} for r in current.per_vsv], [{**r, "key": r["id"]} for r in previous.per_vsv]
        ),
        alerts=list(
            Alert.objects.filter(region=region, raised_at__gte=start, raised_at__lt=end)
            .select_related("region", "location")
            .order_by("raised_at", "id")
        ),
    )
