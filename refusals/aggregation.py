"""Aggregation of refusals into the rollup tables, idempotent and self-healing.

The services (refusals/services.py) store a refusal in their own transaction and call
``tasks.enqueue`` after commit. The Celery task runs ``aggregate``, which compares what the
refusal says now with where its ``RefusalTally`` says it is counted, and moves the count
only on a difference: running it twice, or a stale task after a newer one, changes
nothing. ``sweep`` (a beat task) aggregates every refusal whose tally is missing or
behind, so a broker or worker that was down loses nothing. ``rebuild`` recomputes
every tally and rollup from the refusals table. See docs/refusals.md.

Locking: ``aggregate`` locks the refusal row (the services lock the same row to change
it), so one refusal is aggregated by one transaction at a time; on PostgreSQL it also
holds a shared advisory lock that ``rebuild`` takes exclusively, so a rebuild never
interleaves with live aggregation. Rollup rows are changed in a fixed key order with
an upsert, so concurrent aggregations of different refusals cannot deadlock or lose
an increment. SQLite serialises all writers anyway.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate, TruncMonth
from django.dispatch import Signal
from django.utils import timezone

from core.time import ZONE  # days and hours in the rollups are Dutch local time, as coordinators read them
from refusals.models import Refusal, RefusalDaily, RefusalHourly, RefusalMonthly, RefusalTally

logger = logging.getLogger(__name__)

# The sweep aggregates at most this many refusals per run (every minute); the rest next time.
SWEEP_BATCH = 1000
# PostgreSQL advisory lock: live aggregation holds it shared, a rebuild exclusively.
ADVISORY_LOCK_KEY = 0x52_45_46_55  # "REFU"

# Sent after commit whenever the rollups changed: ``region_ids`` is the set of regions
# whose figures moved (the statistics page push hooks on here).
rollups_changed = Signal()

Outcome = Literal["counted", "moved", "removed", "version", "unchanged", "missing"]

DailyKey = tuple[date, int, int, str, str]  # day, region_id, location_id, care_type, reason
MonthlyKey = DailyKey  # the same, with the first day of the month for the day
HourlyKey = tuple[int, int, int, int]  # region_id, location_id, weekday, hour
DailyCounts = dict[DailyKey, tuple[int, int]]  # count, count_board_showed_room
HourlyCounts = dict[HourlyKey, int]


@dataclass(frozen=True)
class Key:
    """Where a refusal is counted: one daily, one monthly and one hourly rollup row."""

    day: date
    weekday: int
    hour: int
    region_id: int
    location_id: int
    care_type: str
    reason: str
    board_showed_room: bool

    @property
    def daily(self) -> DailyKey:
        return (self.day, self.region_id, self.location_id, self.care_type, self.reason)

    @property
    def monthly(self) -> MonthlyKey:
        return (self.day.replace(day=1), self.region_id, self.location_id, self.care_type, self.reason)

    @property
    def hourly(self) -> HourlyKey:
        return (self.region_id, self.location_id, self.weekday, self.hour)


def key_of(refusal: Refusal) -> Key | None:
    """Where the refusal should be counted now; None when it is withdrawn."""
    if refusal.withdrawn_at is not None:
        return None
    local = refusal.occurred_at.astimezone(ZONE)
    return Key(
        day=local.date(),
        weekday=local.weekday(),
        hour=local.hour,
        region_id=refusal.region_id,
        location_id=refusal.location_id,
        care_type=refusal.care_type,
        reason=refusal.reason,
        board_showed_room=refusal.board_showed_room,
    )


def tally_key(tally: RefusalTally | None) -> Key | None:
    """Where the tally says the refusal is counted; None when nowhere."""
    if tally is None or tally.day is None:
        return None
    assert tally.weekday is not None and tally.hour is not None  # the check constraint: all set or none
    assert tally.region_id is not None and tally.location_id is not None
    return Key(
        day=tally.day,
        weekday=tally.weekday,
        hour=tally.hour,
        region_id=tally.region_id,
        location_id=tally.location_id,
        care_type=tally.care_type,
        reason=tally.reason,
        board_showed_room=tally.board_showed_room,
    )


# --- Live aggregation -----------------------------------------------------------------


def _advisory_lock(*, shared: bool) -> None:
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ADVISORY_LOCK_KEY])


def aggregate(refusal_id: int) -> Outcome:
    """Make the rollups count the refusal exactly as it is now. Idempotent.

    Returns what happened: counted (first time), moved (a correction), removed (a
    withdrawal), version (tally caught up, same place), unchanged, or missing.
    """
    with transaction.atomic():
        _advisory_lock(shared=True)
        try:
            refusal = Refusal.objects.select_for_update().order_by().get(pk=refusal_id)
        except Refusal.DoesNotExist:
            return "missing"
        tally = RefusalTally.objects.select_for_update().filter(refusal_id=refusal_id).first()
        old = tally_key(tally)
        new = key_of(refusal)
        if tally is not None and tally.version == refusal.version and old == new:
            return "unchanged"
        if old != new:
            _move(old, new)
        _save_tally(tally, refusal, new)
    if old == new:
        return "version"
    regions = {k.region_id for k in (old, new) if k is not None}
    transaction.on_commit(lambda: rollups_changed.send_robust(sender=Refusal, region_ids=regions))
    if old is None:
        return "counted"
    return "removed" if new is None else "moved"


def _save_tally(tally: RefusalTally | None, refusal: Refusal, key: Key | None) -> None:
    if tally is None:
        tally = RefusalTally(refusal_id=refusal.pk)
    tally.version = refusal.version
    tally.aggregated_at = timezone.now()
    tally.day = key.day if key else None
    tally.weekday = key.weekday if key else None
    tally.hour = key.hour if key else None
    tally.region_id = key.region_id if key else None
    tally.location_id = key.location_id if key else None
    tally.care_type = key.care_type if key else ""
    tally.reason = key.reason if key else ""
    tally.board_showed_room = key.board_showed_room if key else False
    tally.save()


def _move(old: Key | None, new: Key | None) -> None:
    """Take the refusal out of the old rows and into the new ones (net change per row)."""
    daily: dict[DailyKey, list[int]] = {}
    monthly: dict[MonthlyKey, list[int]] = {}
    hourly: Counter[HourlyKey] = Counter()
    for key, sign in ((old, -1), (new, 1)):
        if key is None:
            continue
        for rows, row_key in ((daily, key.daily), (monthly, key.monthly)):
            delta = rows.setdefault(row_key, [0, 0])
            delta[0] += sign
            delta[1] += sign if key.board_showed_room else 0
        hourly[key.hourly] += sign
    # A fixed order over all transactions (daily, monthly, hourly, each by key): no deadlock
    # between concurrent aggregations.
    for daily_key, (count, room) in sorted(daily.items()):
        if count or room:
            _add_daily(daily_key, count, room)
    for monthly_key, (count, room) in sorted(monthly.items()):
        if count or room:
            _add_monthly(monthly_key, count, room)
    for hourly_key, count in sorted(hourly.items()):
        if count:
            _add_hourly(hourly_key, count)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


class RollupDrift(Exception):
    """A rollup row that a tally says counts the refusal is not there: run the rebuild."""


def _add(
    table_model: type[RefusalDaily | RefusalMonthly | RefusalHourly],
    key_cols: tuple[str, ...],
    key: tuple[Any, ...],
    deltas: dict[str, int],
) -> None:
    table = _q(table_model._meta.db_table)
    cols = ", ".join(_q(c) for c in key_cols)
    where = " AND ".join(f"{_q(c)} = %s" for c in key_cols)
    with connection.cursor() as cursor:
        if all(d >= 0 for d in deltas.values()):
            # Upsert: atomic on PostgreSQL and SQLite (3.24+), also against a concurrent delete.
            values = ", ".join(["%s"] * (len(key_cols) + len(deltas)))
            names = ", ".join(_q(c) for c in deltas)
            sets = ", ".join(f"{_q(c)} = {table}.{_q(c)} + excluded.{_q(c)}" for c in deltas)
            cursor.execute(
                f"INSERT INTO {table} ({cols}, {names}) VALUES ({values}) "  # noqa: S608
                f"ON CONFLICT ({cols}) DO UPDATE SET {sets}",
                [*key, *deltas.values()],
            )
            return
        # Taking a refusal out: its row holds it (count >= 1), so it is there; drop it at zero.
        sets = ", ".join(f"{_q(c)} = {_q(c)} + %s" for c in deltas)
        cursor.execute(f"UPDATE {table} SET {sets} WHERE {where}", [*deltas.values(), *key])  # noqa: S608
        if cursor.rowcount != 1:
            raise RollupDrift(f"{table_model.__name__} {key} is missing")
        cursor.execute(f"DELETE FROM {table} WHERE {where} AND {_q('count')} = 0", list(key))  # noqa: S608


def _add_daily(key: DailyKey, count: int, room: int) -> None:
    _add(
        RefusalDaily,
        ("day", "region_id", "location_id", "care_type", "reason"),
        key,
        {"count": count, "count_board_showed_room": room},
    )


def _add_monthly(key: MonthlyKey, count: int, room: int) -> None:
    _add(
        RefusalMonthly,
        ("month", "region_id", "location_id", "care_type", "reason"),
        key,
        {"count": count, "count_board_showed_room": room},
    )


def _add_hourly(key: HourlyKey, count: int) -> None:
    _add(RefusalHourly, ("region_id", "location_id", "weekday", "hour"), key, {"count": count})


# --- Catching up ------------------------------------------------------------------------


def pending() -> QuerySet[Refusal]:
    """Refusals not (yet) aggregated at their current version: no tally, or a tally behind."""
    return Refusal.objects.filter(Q(tally__isnull=True) | Q(tally__version__lt=F("version"))).order_by("id")


def sweep(limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Aggregate up to ``limit`` pending refusals, each in its own transaction."""
    ids = list(pending().values_list("id", flat=True)[:limit])
    outcomes: Counter[str] = Counter()
    for refusal_id in ids:
        try:
            outcomes[aggregate(refusal_id)] += 1
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: stop here, the rest stays pending for the next sweep
        except Exception:  # one broken refusal must not block the others; it stays pending
            logger.exception("aggregation of refusal %s failed; it stays pending", refusal_id)
            outcomes["failed"] += 1
    if ids:
        logger.info("refusal sweep aggregated %s pending refusals: %s", len(ids), dict(outcomes))
    return {"pending": len(ids), **outcomes}


# --- Full rebuild ---------------------------------------------------------------------------


def _local_day(field: str = "occurred_at") -> TruncDate:
    return TruncDate(field, tzinfo=ZONE)


def rebuild() -> dict[str, int]:
    """Recompute every tally and rollup row from the refusals table, in one transaction.

    The tallies are computed from the refusals in ONE statement (one snapshot), the rollups
    then with GROUP BY from those tallies, so rollups and tallies agree even if a refusal
    is corrected meanwhile (that correction then leaves its tally behind: it is pending and
    its own task or the sweep moves it). Live aggregation waits for the rebuild to commit.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One big statement over every refusal: not bound by DB_STATEMENT_TIMEOUT (docs/operations.md).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 0")
        _advisory_lock(shared=False)
        # Write first: on SQLite this takes the database's write lock at once.
        RefusalDaily.objects.all().delete()
        RefusalMonthly.objects.all().delete()
        RefusalHourly.objects.all().delete()
        RefusalTally.objects.all().delete()
        live = Q(withdrawn_at__isnull=True)
        source = (
            Refusal.objects.order_by()
            .annotate(
                t_day=Case(When(live, then=_local_day()), default=Value(None), output_field=DateField()),
                t_weekday=Case(
                    When(live, then=ExtractIsoWeekDay("occurred_at", tzinfo=ZONE) - 1),
                    default=Value(None),
                    output_field=IntegerField(),
                ),
                t_hour=Case(
                    When(live, then=ExtractHour("occurred_at", tzinfo=ZONE)),
                    default=Value(None),
                    output_field=IntegerField(),
                ),
                t_region=Case(When(live, then=F("region_id")), default=Value(None), output_field=IntegerField()),
                t_location=Case(When(live, then=F("location_id")), default=Value(None), output_field=IntegerField()),
                t_care_type=Case(When(live, then=F("care_type")), default=Value(""), output_field=CharField()),
                t_reason=Case(When(live, then=F("reason")), default=Value(""), output_field=CharField()),
                t_room=Case(
                    When(live & Q(board_showed_room=True), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
                t_at=Value(timezone.now(), output_field=DateTimeField()),
            )
            .values_list(
                "id",
                "version",
                "t_day",
                "t_weekday",
                "t_hour",
                "t_region",
                "t_location",
                "t_care_type",
                "t_reason",
                "t_room",
                "t_at",
            )
        )
        select, params = source.query.get_compiler(connection=connection).as_sql()
        tally = _q(RefusalTally._meta.db_table)
        daily = _q(RefusalDaily._meta.db_table)
        hourly = _q(RefusalHourly._meta.db_table)
        tally_cols = ", ".join(
            _q(c)
            for c in (
                "refusal_id",
                "version",
                "day",
                "weekday",
                "hour",
                "region_id",
                "location_id",
                "care_type",
                "reason",
                "board_showed_room",
                "aggregated_at",
            )
        )
        daily_key = ", ".join(_q(c) for c in ("day", "region_id", "location_id", "care_type", "reason"))
        hourly_key = ", ".join(_q(c) for c in ("region_id", "location_id", "weekday", "hour"))
        room = _q("board_showed_room")
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {tally} ({tally_cols}) {select}", params)
            tallies = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {daily} ({daily_key}, {_q('count')}, {_q('count_board_showed_room')}) "  # noqa: S608
                f"SELECT {daily_key}, COUNT(*), SUM(CASE WHEN {room} THEN 1 ELSE 0 END) FROM {tally} "
                f"WHERE {_q('day')} IS NOT NULL GROUP BY {daily_key}"
            )
            daily_rows = cursor.rowcount
            monthly_rows = _insert_months(cursor)
            cursor.execute(
                f"INSERT INTO {hourly} ({hourly_key}, {_q('count')}) "  # noqa: S608
                f"SELECT {hourly_key}, COUNT(*) FROM {tally} WHERE {_q('day')} IS NOT NULL GROUP BY {hourly_key}"
            )
            hourly_rows = cursor.rowcount
        counted = RefusalTally.objects.filter(day__isnull=False).count()
    transaction.on_commit(lambda: rollups_changed.send_robust(sender=Refusal, region_ids=None))
    return {
        "refusals": tallies,
        "counted": counted,
        "withdrawn": tallies - counted,
        "daily_rows": daily_rows,
        "monthly_rows": monthly_rows,
        "hourly_rows": hourly_rows,
    }


def _months_of_daily() -> QuerySet[RefusalDaily, tuple[Any, ...]]:
    """RefusalDaily summed per month: the rows RefusalMonthly must hold (one GROUP BY)."""
    return (
        RefusalDaily.objects.order_by()
        .annotate(m=TruncMonth("day"))
        .values_list("m", "region_id", "location_id", "care_type", "reason")
        .annotate(n=Sum("count"), room=Sum("count_board_showed_room"))
        .filter(n__gt=0)
    )


def _insert_months(cursor: Any) -> int:
    select, params = _months_of_daily().query.get_compiler(connection=connection).as_sql()
    cols = ", ".join(
        _q(c) for c in ("month", "region_id", "location_id", "care_type", "reason", "count", "count_board_showed_room")
    )
    cursor.execute(f"INSERT INTO {_q(RefusalMonthly._meta.db_table)} ({cols}) {select}", params)
    return int(cursor.rowcount)


# --- Reading: the rollups, and the same figures straight from the refusals ------------------


def _bounds(start: date | None, end: date | None) -> Q:
    """Local days start <= day < end, as a range on occurred_at (uses its index)."""
    q = Q()
    if start is not None:
        q &= Q(occurred_at__gte=datetime.combine(start, time(), ZONE))
    if end is not None:
        q &= Q(occurred_at__lt=datetime.combine(end, time(), ZONE))
    return q


def daily_from_refusals(
    *, region_id: int | None = None, start: date | None = None, end: date | None = None
) -> DailyCounts:
    """What RefusalDaily should hold, counted directly from the refusals with GROUP BY."""
    qs = Refusal.objects.filter(_bounds(start, end), withdrawn_at__isnull=True)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    rows = (
        qs.order_by()
        .annotate(local_day=_local_day())
        .values_list("local_day", "region_id", "location_id", "care_type", "reason")
        .annotate(n=Count("id"), room=Count("id", filter=Q(board_showed_room=True)))
    )
    return {(d, reg, loc, ct, rs): (n, room) for d, reg, loc, ct, rs, n, room in rows}


def daily_from_rollups(
    *, region_id: int | None = None, start: date | None = None, end: date | None = None
) -> DailyCounts:
    qs = RefusalDaily.objects.filter(count__gt=0)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    if start is not None:
        qs = qs.filter(day__gte=start)
    if end is not None:
        qs = qs.filter(day__lt=end)
    rows = qs.values_list("day", "region_id", "location_id", "care_type", "reason", "count", "count_board_showed_room")
    return {(d, reg, loc, ct, rs): (n, room) for d, reg, loc, ct, rs, n, room in rows}


def by_month(daily: DailyCounts) -> DailyCounts:
    """Daily counts summed per month: what RefusalMonthly should hold for them."""
    out: DailyCounts = {}
    for (day, reg, loc, ct, rs), (n, room) in daily.items():
        key = (day.replace(day=1), reg, loc, ct, rs)
        before = out.get(key, (0, 0))
        out[key] = (before[0] + n, before[1] + room)
    return out


def monthly_from_rollups(*, region_id: int | None = None) -> DailyCounts:
    qs = RefusalMonthly.objects.filter(count__gt=0)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    rows = qs.values_list(
        "month", "region_id", "location_id", "care_type", "reason", "count", "count_board_showed_room"
    )
    return {(m, reg, loc, ct, rs): (n, room) for m, reg, loc, ct, rs, n, room in rows}


def hourly_from_refusals(*, region_id: int | None = None) -> HourlyCounts:
    """What RefusalHourly should hold, counted directly from the refusals with GROUP BY."""
    qs = Refusal.objects.filter(withdrawn_at__isnull=True)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    rows = (
        qs.order_by()
        .annotate(
            local_weekday=ExtractIsoWeekDay("occurred_at", tzinfo=ZONE) - 1,
            local_hour=ExtractHour("occurred_at", tzinfo=ZONE),
        )
        .values_list("region_id", "location_id", "local_weekday", "local_hour")
        .annotate(n=Count("id"))
    )
    return {(reg, loc, wd, h): n for reg, loc, wd, h, n in rows}


def hourly_from_rollups(*, region_id: int | None = None) -> HourlyCounts:
    qs = RefusalHourly.objects.filter(count__gt=0)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    rows = qs.values_list("region_id", "location_id", "weekday", "hour", "count")
    return {(reg, loc, wd, h): n for reg, loc, wd, h, n in rows}


def differences() -> list[str]:
    """How the live rollups differ from a fresh count of the refusals (empty: they agree)."""
    lines: list[str] = []
    fresh_daily = daily_from_refusals()
    pairs: Iterable[tuple[str, Mapping[Any, object], Mapping[Any, object]]] = (
        ("daily", daily_from_rollups(), fresh_daily),
        ("monthly", monthly_from_rollups(), by_month(fresh_daily)),
        ("hourly", hourly_from_rollups(), hourly_from_refusals()),
    )
    for name, live, fresh in pairs:
        for key in sorted(set(live) | set(fresh), key=repr):
            if live.get(key) != fresh.get(key):
                lines.append(f"{name} {key}: rollup {live.get(key)}, refusals {fresh.get(key)}")
    return lines
