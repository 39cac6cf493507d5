"""Aggregation of kraamzorg shortages into ``ShortageWeekly``, idempotent and self-healing.

The same design as the refusals' (refusals/aggregation.py, docs/refusals.md): the services
(kraamzorg/shortages.py) store a shortage in their own transaction and send
``signals.shortage_changed`` after commit; ``kraamzorg.tasks.enqueue`` hands it to Celery, whose
task runs ``aggregate``. That compares the shortage as it is now with where its
``ShortageTally`` says it is counted and moves the count only on a difference: running it twice,
or a stale task after a newer one, changes nothing. ``sweep`` (a beat task) aggregates every
shortage whose tally is missing or behind, so a broker or worker that was down loses nothing.
``rebuild`` recomputes every tally and rollup row from the shortages table. After each commit that
moved a count, ``signals.rollups_changed`` tells the region pages (once per region for a sweep, every
region after a rebuild). See docs/kraamzorg.md.

Locking: ``aggregate`` locks the shortage row (the withdraw service locks the same row), so one
shortage is aggregated by one transaction at a time; on PostgreSQL it also holds a shared advisory
lock that ``rebuild`` takes exclusively. Rollup rows change by an upsert (increments) or an update
plus delete-at-zero (decrements), in a fixed key order, so concurrent aggregations of different
shortages in the same row neither lose an increment nor deadlock.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Literal

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from kraamzorg.models import Shortage, ShortageTally, ShortageWeekly
from kraamzorg.signals import rollups_changed

logger = logging.getLogger(__name__)

# The sweep aggregates at most this many shortages per run (every minute); the rest next time.
SWEEP_BATCH = 1000
# PostgreSQL advisory lock: live aggregation holds it shared, a rebuild exclusively.
# Not the refusals' key: a refusal rebuild and a shortage rebuild do not wait for each other.
ADVISORY_LOCK_KEY = 0x4B_52_41_41  # "KRAA"

Outcome = Literal["counted", "moved", "removed", "version", "unchanged", "missing"]

RowKey = tuple[int, date, str, str, str, str]  # region_id, due_week, municipality, pc4, reason, vulnerable
WeeklyCounts = dict[RowKey, tuple[int, int]]  # count, hours_short
KEY_COLUMNS = ("region_id", "due_week", "municipality", "pc4", "reason", "vulnerable")


@dataclass(frozen=True)
class Key:
    """Where a shortage is counted: one ``ShortageWeekly`` row, with its hours short."""

    row: RowKey
    hours_short: int


def key_of(shortage: Shortage) -> Key | None:
    """Where the shortage should be counted now; None when it is withdrawn."""
    if shortage.withdrawn_at is not None:
        return None
    row = (
        shortage.region_id,
        shortage.due_week,
        shortage.municipality,
        shortage.pc4,
        shortage.reason,
        shortage.vulnerable,
    )
    return Key(row=row, hours_short=shortage.hours_short)


def tally_key(tally: ShortageTally | None) -> Key | None:
    """Where the tally says the shortage is counted; None when nowhere."""
    if tally is None or tally.due_week is None:
        return None
    assert tally.region_id is not None  # the check constraint: all set or none
    row = (tally.region_id, tally.due_week, tally.municipality, tally.pc4, tally.reason, tally.vulnerable)
    return Key(row=row, hours_short=tally.hours_short)


def _advisory_lock(*, shared: bool) -> None:
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ADVISORY_LOCK_KEY])


# --- Live aggregation -----------------------------------------------------------------


def aggregate(shortage_id: int) -> Outcome:
    """Make the rollup count the shortage exactly as it is now. Idempotent.

    Returns what happened: counted (first time), moved (its key changed), removed (a withdrawal),
    version (tally caught up, same place), unchanged, or missing.
    """
    with transaction.atomic():
        _advisory_lock(shared=True)
        try:
            shortage = Shortage.objects.select_for_update().order_by().get(pk=shortage_id)
        except Shortage.DoesNotExist:
            return "missing"
        tally = ShortageTally.objects.select_for_update().filter(shortage_id=shortage_id).first()
        old = tally_key(tally)
        new = key_of(shortage)
        if tally is not None and tally.version == shortage.version and old == new:
            return "unchanged"
        if old != new:
            _move(old, new)
        _save_tally(tally, shortage, new)
    if old == new:
        return "version"
    _changed({k.row[0] for k in (old, new) if k is not None})
    if old is None:
        return "counted"
    return "removed" if new is None else "moved"


# Regions collected while a sweep runs: one push per region at its end, not one per shortage.
_batch: ContextVar[set[int] | None] = ContextVar("kraamzorg_rollups_batch", default=None)


def _changed(region_ids: set[int] | None) -> None:
    """Tell the region pages (``signals.rollups_changed``) once the rollup's change is committed."""
    batch = _batch.get()
    if batch is not None and region_ids is not None:
        batch.update(region_ids)
        return
    transaction.on_commit(lambda: rollups_changed.send_robust(sender=ShortageWeekly, region_ids=region_ids))


@contextmanager
def one_push_per_region() -> Iterator[None]:
    regions: set[int] = set()
    token = _batch.set(regions)
    try:
        yield
    finally:
        _batch.reset(token)
        if regions:
            _changed(regions)


def _save_tally(tally: ShortageTally | None, shortage: Shortage, key: Key | None) -> None:
    if tally is None:
        tally = ShortageTally(shortage_id=shortage.pk)
    tally.version = shortage.version
    tally.aggregated_at = timezone.now()
    if key is None:
        tally.region_id, tally.due_week = None, None
        tally.municipality = tally.pc4 = tally.reason = tally.vulnerable = ""
        tally.hours_short = 0
    else:
        tally.region_id, tally.due_week, tally.municipality, tally.pc4, tally.reason, tally.vulnerable = key.row
        tally.hours_short = key.hours_short
    tally.save()


def _move(old: Key | None, new: Key | None) -> None:
    """Take the shortage out of its old row and into the new one (net change per row)."""
    deltas: dict[RowKey, list[int]] = {}
    for key, sign in ((old, -1), (new, 1)):
        if key is not None:
            delta = deltas.setdefault(key.row, [0, 0])
            delta[0] += sign
            delta[1] += sign * key.hours_short
    # A fixed order over all transactions: no deadlock between concurrent aggregations.
    for row, (count, hours) in sorted(deltas.items()):
        if count or hours:
            _add(row, count, hours)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


class RollupDrift(Exception):
    """A rollup row that a tally says counts the shortage is not there: run the rebuild."""


def _add(row: RowKey, count: int, hours: int) -> None:
    table = _q(ShortageWeekly._meta.db_table)
    cols = ", ".join(_q(c) for c in KEY_COLUMNS)
    where = " AND ".join(f"{_q(c)} = %s" for c in KEY_COLUMNS)
    with connection.cursor() as cursor:
        if count >= 0 and hours >= 0:
            # Upsert: atomic on PostgreSQL and SQLite (3.24+), also against a concurrent delete.
            cursor.execute(
                f"INSERT INTO {table} ({cols}, {_q('count')}, {_q('hours_short')}) "  # noqa: S608
                f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT ({cols}) DO UPDATE SET "
                f"{_q('count')} = {table}.{_q('count')} + excluded.{_q('count')}, "
                f"{_q('hours_short')} = {table}.{_q('hours_short')} + excluded.{_q('hours_short')}",
                [*row, count, hours],
            )
            return
        # Taking a shortage out (or only its hours, which cannot happen today): the row holds it.
        cursor.execute(
            f"UPDATE {table} SET {_q('count')} = {_q('count')} + %s, "  # noqa: S608
            f"{_q('hours_short')} = {_q('hours_short')} + %s WHERE {where}",
            [count, hours, *row],
        )
        if cursor.rowcount != 1:
            raise RollupDrift(f"ShortageWeekly {row} is missing")
        cursor.execute(f"DELETE FROM {table} WHERE {where} AND {_q('count')} = 0", list(row))  # noqa: S608


# --- Catching up ------------------------------------------------------------------------


def pending() -> QuerySet[Shortage]:
    """Shortages not (yet) aggregated at their current version: no tally, or a tally behind."""
    return Shortage.objects.filter(Q(tally__isnull=True) | Q(tally__version__lt=F("version"))).order_by("id")


def sweep(limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Aggregate up to ``limit`` pending shortages, each in its own transaction."""
    ids = list(pending().values_list("id", flat=True)[:limit])
    outcomes: Counter[str] = Counter()
    with one_push_per_region():
        for shortage_id in ids:
            try:
                outcomes[aggregate(shortage_id)] += 1
            except SoftTimeLimitExceeded:
                raise  # the task's time is up: the rest stays pending for the next sweep
            except Exception:  # one broken shortage must not block the others; it stays pending
                logger.exception("aggregation of shortage %s failed; it stays pending", shortage_id)
                outcomes["failed"] += 1
    if ids:
        logger.info("shortage sweep aggregated %s pending shortages: %s", len(ids), dict(outcomes))
    return {"pending": len(ids), **outcomes}


# --- Full rebuild ---------------------------------------------------------------------------


def rebuild() -> dict[str, int]:
    """Recompute every tally and rollup row from the shortages table, in one transaction.

    The tallies come from the shortages in ONE statement (one snapshot), the rollup then with
    GROUP BY from those tallies, so the two agree even if a shortage is withdrawn meanwhile (its
    tally is then behind: pending, and its own task or the sweep moves it). Live aggregation waits
    for the rebuild to commit.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 0")
        _advisory_lock(shared=False)
        ShortageWeekly.objects.all().delete()
        ShortageTally.objects.all().delete()
        tally = _q(ShortageTally._meta.db_table)
        source = _q(Shortage._meta.db_table)
        weekly = _q(ShortageWeekly._meta.db_table)
        live = f"{_q('withdrawn_at')} IS NULL"
        key_cols = ", ".join(_q(c) for c in KEY_COLUMNS)

        def live_or(column: str, empty: str) -> str:
            return f"CASE WHEN {live} THEN {_q(column)} ELSE {empty} END"

        selected = ", ".join(
            [
                _q("id"),
                _q("version"),
                live_or("region_id", "NULL"),
                live_or("due_week", "NULL"),
                live_or("municipality", "''"),
                live_or("pc4", "''"),
                live_or("reason", "''"),
                live_or("vulnerable", "''"),
                f"CASE WHEN {live} THEN {_q('indicated_hours')} - {_q('promised_hours')} ELSE 0 END",
                "%s",
            ]
        )
        tally_cols = ", ".join(_q(c) for c in ("shortage_id", "version", *KEY_COLUMNS, "hours_short", "aggregated_at"))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {tally} ({tally_cols}) SELECT {selected} FROM {source}",  # noqa: S608
                [timezone.now()],
            )
            tallies = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {weekly} ({key_cols}, {_q('count')}, {_q('hours_short')}) "  # noqa: S608
                f"SELECT {key_cols}, COUNT(*), SUM({_q('hours_short')}) FROM {tally} "
                f"WHERE {_q('due_week')} IS NOT NULL GROUP BY {key_cols}"
            )
            rows = cursor.rowcount
        counted = ShortageTally.objects.filter(due_week__isnull=False).count()
    _changed(None)
    return {"shortages": tallies, "counted": counted, "withdrawn": tallies - counted, "weekly_rows": rows}


# --- Reading: the rollup, and the same figures straight from the shortages ------------------


def weekly_from_shortages(*, region_id: int | None = None) -> WeeklyCounts:
    """What ShortageWeekly should hold, counted directly from the shortages with GROUP BY."""
    qs = Shortage.objects.filter(withdrawn_at__isnull=True)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    rows = (
        qs.order_by()
        .values_list(*KEY_COLUMNS)
        .annotate(n=Count("id"), hours=Sum(F("indicated_hours") - F("promised_hours")))
    )
    return {(reg, week, mun, pc4, rs, vul): (n, hours) for reg, week, mun, pc4, rs, vul, n, hours in rows}


def weekly_from_rollups(*, region_id: int | None = None) -> WeeklyCounts:
    qs = ShortageWeekly.objects.filter(count__gt=0)
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    rows = qs.values_list(*KEY_COLUMNS, "count", "hours_short")
    return {(reg, week, mun, pc4, rs, vul): (n, hours) for reg, week, mun, pc4, rs, vul, n, hours in rows}


def differences() -> list[str]:
    """How the live rollup differs from a fresh count of the shortages (empty: they agree)."""
    live, fresh = weekly_from_rollups(), weekly_from_shortages()
    return [
        f"weekly {key}: rollup {live.get(key)}, shortages {fresh.get(key)}"
        for key in sorted(set(live) | set(fresh), key=repr)
        if live.get(key) != fresh.get(key)
    ]
