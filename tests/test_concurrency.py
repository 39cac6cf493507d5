"""Optimistic concurrency under real contention: many writers, one row, real PostgreSQL transactions."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta
from typing import TypeVar

import pytest
from django.db import connection, transaction
from django.utils import timezone

from capacity import staleness
from capacity.models import CapacityEvent, Unit
from capacity.services import CapacityChange, VersionConflict, _confirm, _lock, unit_update_capacity
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 16
T = TypeVar("T")


def run_together(work: Callable[[int], T], n: int = THREADS) -> list[T | BaseException]:
    """Run ``work(i)`` in n threads released at the same moment; each result or exception, by i."""
    barrier = threading.Barrier(n)

    def target(i: int) -> T:
        try:
            barrier.wait(timeout=10)
            return work(i)
        finally:
            connection.close()  # each thread has its own connection; leave none open on the test database

    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="writer")
    futures = [pool.submit(target, i) for i in range(n)]
    _done, pending = wait(futures, timeout=30)
    pool.shutdown(wait=not pending)
    assert not pending, "a writer hung (lock never released?)"
    return [f.exception() or f.result() for f in futures]


def test_one_of_many_simultaneous_writers_of_the_same_version_wins(
    world: World, published: list[dict[str, object]]
) -> None:
    nicu = world.nicu  # 24 staffed, 2 free: every thread asks for a different, changed figure

    def write(i: int) -> Unit:
        return unit_update_capacity(
            unit_id=nicu.pk,
            by=world.staff,
            change=CapacityChange(staffed_total=24, available=3 + i, status=Unit.Status.OPEN),
            expected_version=1,
        ).unit

    results = run_together(write)

    winners = [r for r in results if isinstance(r, Unit)]
    conflicts = [r for r in results if isinstance(r, VersionConflict)]
    others = [r for r in results if not isinstance(r, Unit | VersionConflict)]
    assert others == []
    assert (len(winners), len(conflicts)) == (1, THREADS - 1)
    [winner] = winners
    unit = Unit.objects.get(pk=nicu.pk)
    assert unit.version == 2 and unit.available == winner.available
    # Every loser was told the state that beat it.
    assert {(c.current.version, c.current.available) for c in conflicts} == {(2, winner.available)}
    [event] = CapacityEvent.objects.filter(unit=nicu)
    assert (event.action, event.version, event.before["available"], event.after["available"]) == (
        "update",
        2,
        2,
        winner.available,
    )
    # Only the committed write was pushed.
    assert [e["location_id"] for e in published] == [world.location.pk]


def test_writers_that_reread_and_retry_lose_nothing(world: World) -> None:
    nicu = world.nicu
    max_attempts = 4 * THREADS

    def write_with_retry(i: int) -> int:
        for attempt in range(1, max_attempts + 1):
            current = Unit.objects.get(pk=nicu.pk)
            try:
                unit_update_capacity(
                    unit_id=nicu.pk,
                    by=world.staff,
                    # A note of its own makes every write a real change, never a mere confirmation.
                    change=CapacityChange(
                        staffed_total=24, available=i % 25, status=Unit.Status.OPEN, note=f"writer {i}"
                    ),
                    expected_version=current.version,
                )
            except VersionConflict:
                continue
            return attempt
        raise AssertionError(f"writer {i} gave up after {max_attempts} conflicts")

    results = run_together(write_with_retry)

    assert all(isinstance(r, int) for r in results), results
    assert sum(r for r in results if isinstance(r, int)) > THREADS  # there was contention to resolve
    unit = Unit.objects.get(pk=nicu.pk)
    assert unit.version == 1 + THREADS
    history = list(CapacityEvent.objects.filter(unit=nicu).order_by("version"))
    assert [e.version for e in history] == list(range(2, 2 + THREADS))
    assert {e.action for e in history} == {"update"}
    assert sorted(e.after["note"] for e in history) == sorted(f"writer {i}" for i in range(THREADS))
    # The history is a chain: each change starts from the state the previous one left.
    for previous, event in itertools.pairwise(history):
        assert event.before == previous.after
    assert history[-1].after == unit.snapshot()


def test_overlapping_beat_runs_flag_remind_and_push_once(
    world: World, settings, published: list[dict[str, object]], mailoutbox
) -> None:
    settings.CAPACITY_STALE_AFTER = timedelta(hours=4)
    settings.CAPACITY_REMIND_BEFORE = timedelta(minutes=30)
    now = timezone.now()
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=now - timedelta(hours=5))
    Unit.objects.filter(pk=world.other_unit.pk).update(confirmed_at=now - timedelta(hours=3, minutes=45))
    Unit.objects.filter(pk=world.far_unit.pk).update(
        status=Unit.Status.STOP,
        stop_reason=Unit.StopReason.BEDS,
        available=0,
        stop_expected_end=now - timedelta(minutes=1),
    )

    results = run_together(lambda _i: staleness.run(), n=8)

    assert all(isinstance(r, dict) for r in results), results
    totals = {
        key: sum(r[key] for r in results if isinstance(r, dict)) for key in ("stale", "stop_overdue", "reminders")
    }
    assert totals == {"stale": 1, "stop_overdue": 1, "reminders": 1}
    assert sorted(CapacityEvent.objects.values_list("unit_id", "action")) == sorted(
        [(world.unit.pk, "stale"), (world.far_unit.pk, "stop_overdue")]
    )
    assert {e["location_id"] for e in published} == {world.location.pk, world.far_location.pk}
    assert len(published) == 2
    assert [m.to for m in mailoutbox] == [[world.other_staff.email]]


def lock_waiters() -> int:
    """Sessions of this test database waiting for a lock (fresh statistics, even inside a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_confirmation_racing_the_reminder_claim_wins(world: World, settings, mailoutbox) -> None:
    settings.CAPACITY_STALE_AFTER = timedelta(hours=4)
    settings.CAPACITY_REMIND_BEFORE = timedelta(minutes=30)
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=timezone.now() - timedelta(hours=3, minutes=40))

    def run_beat() -> dict[str, int]:
        try:
            return staleness.run()
        finally:
            connection.close()

    # Staff are confirming (they hold the row) when the beat lists the unit as due and tries to claim it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="beat") as pool:
        with transaction.atomic(durable=True):
            unit = _lock(world.unit.pk, expected_version=1)
            beat = pool.submit(run_beat)
            deadline = time.monotonic() + 10
            while lock_waiters() == 0:
                assert time.monotonic() < deadline, "the beat never reached its claim"
                time.sleep(0.02)
            _confirm(unit, by=world.staff, source=CapacityEvent.Source.WEB, before=unit.snapshot(), now=timezone.now())
        result = beat.result(timeout=20)

    unit = Unit.objects.get(pk=world.unit.pk)
    assert not unit.needs_confirmation()
    # Fresh figures: no mail asking to confirm them, and the next cycle's reminder is not used up.
    assert (result["reminders"], mailoutbox, unit.reminder_sent_at) == (0, [], None)
