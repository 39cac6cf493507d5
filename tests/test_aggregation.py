"""Refusal rollups: idempotent aggregation, corrections and withdrawals move the count, rebuild agrees."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone
from pytest_django import Settings

from capacity.models import Unit
from config.celery import app
from refusals import aggregation
from refusals.models import Refusal, RefusalDaily, RefusalHourly, RefusalMonthly, RefusalTally
from refusals.services import RefusalInput, refusal_correct, refusal_register, refusal_withdraw
from tests.conftest import World

AMS = aggregation.ZONE


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    """Run tasks in-process, as embedded mode does (never publish to the shared Redis from here)."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


def data(world: World, **changes: Any) -> RefusalInput:
    fields: dict[str, Any] = {
        "occurred_at": timezone.now() - timedelta(hours=1),
        "location_id": world.location.pk,
        "care_type": Refusal.CareType.OVERDRACHT,
        "reason": Refusal.Reason.NO_DELIVERY_ROOM,
        "outcome": Refusal.Outcome.HOME,
    }
    fields.update(changes)
    return RefusalInput(**fields)


def local(dt: datetime) -> datetime:
    return dt.astimezone(AMS)


def assert_consistent() -> None:
    assert aggregation.daily_from_rollups() == aggregation.daily_from_refusals()
    assert aggregation.monthly_from_rollups() == aggregation.by_month(aggregation.daily_from_refusals())
    assert aggregation.hourly_from_rollups() == aggregation.hourly_from_refusals()
    assert not aggregation.pending().exists()


def test_registration_is_counted_after_commit(world: World, django_capture_on_commit_callbacks: Any) -> None:
    at = timezone.now() - timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refusal = refusal_register(by=world.midwife, data=data(world, occurred_at=at))
    assert len(callbacks) >= 1  # the enqueue (and, once counted, the rollups_changed signal)

    when = local(at)
    assert aggregation.daily_from_rollups() == {
        (when.date(), world.region.pk, world.location.pk, "overdracht", "no_delivery_room"): (
            1,
            1 if refusal.board_showed_room else 0,
        )
    }
    assert aggregation.hourly_from_rollups() == {(world.region.pk, world.location.pk, when.weekday(), when.hour): 1}
    tally = RefusalTally.objects.get(refusal=refusal)
    assert (tally.version, tally.day, tally.location_id) == (1, when.date(), world.location.pk)
    assert_consistent()


def test_board_showed_room_is_counted_separately(world: World, django_capture_on_commit_callbacks: Any) -> None:
    # The fixture's delivery suite has 4 beds free, just confirmed: the board showed room.
    with django_capture_on_commit_callbacks(execute=True):
        refusal = refusal_register(by=world.midwife, data=data(world))
    assert refusal.board_showed_room
    [row] = RefusalDaily.objects.all()
    assert (row.count, row.count_board_showed_room) == (1, 1)

    Unit.objects.filter(pk=world.other_unit.pk).update(available=0)  # no bed free there
    with django_capture_on_commit_callbacks(execute=True):
        refusal_register(by=world.midwife, data=data(world, location_id=world.other_location.pk))
    row = RefusalDaily.objects.get(location=world.other_location)
    assert (row.count, row.count_board_showed_room) == (1, 0)
    assert_consistent()


def test_correction_moves_the_count(world: World, django_capture_on_commit_callbacks: Any) -> None:
    first = timezone.now() - timedelta(days=2, hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        refusal = refusal_register(by=world.midwife, data=data(world, occurred_at=first))
    later = timezone.now() - timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        refusal_correct(
            refusal_id=refusal.pk,
            by=world.midwife,
            data=data(
                world,
                occurred_at=later,
                location_id=world.far_location.pk,
                reason=Refusal.Reason.NO_STAFF,
                care_type=Refusal.CareType.BEGELEIDING,
            ),
            expected_version=1,
        )

    when = local(later)
    room = 1 if Refusal.objects.get(pk=refusal.pk).board_showed_room else 0
    assert aggregation.daily_from_rollups() == {
        (when.date(), world.other_region.pk, world.far_location.pk, "begeleiding", "no_staff"): (1, room)
    }
    assert aggregation.hourly_from_rollups() == {
        (world.other_region.pk, world.far_location.pk, when.weekday(), when.hour): 1
    }
    # The old rows are gone, not left at zero.
    assert RefusalDaily.objects.count() == 1
    assert RefusalHourly.objects.count() == 1
    assert RefusalTally.objects.get(refusal=refusal).version == 2
    assert_consistent()


def test_withdrawal_removes_the_count(world: World, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        kept = refusal_register(by=world.midwife, data=data(world))
        gone = refusal_register(by=world.midwife, data=data(world))
    assert RefusalDaily.objects.get().count == 2
    with django_capture_on_commit_callbacks(execute=True):
        refusal_withdraw(refusal_id=gone.pk, by=world.midwife, expected_version=1)

    assert RefusalDaily.objects.get().count == 1
    assert RefusalHourly.objects.get().count == 1
    tally = RefusalTally.objects.get(refusal=gone)
    assert (tally.version, tally.day, tally.location_id, tally.reason) == (2, None, None, "")
    assert RefusalTally.objects.get(refusal=kept).day is not None
    assert_consistent()


def test_aggregating_twice_counts_once(world: World) -> None:
    # Registered without running the after-commit hook: nothing counted yet, the refusal is pending.
    refusal = refusal_register(by=world.midwife, data=data(world))
    assert list(aggregation.pending()) == [refusal]
    assert not RefusalDaily.objects.exists()

    assert aggregation.aggregate(refusal.pk) == "counted"
    assert aggregation.aggregate(refusal.pk) == "unchanged"
    assert aggregation.aggregate(refusal.pk) == "unchanged"
    assert RefusalDaily.objects.get().count == 1
    assert RefusalHourly.objects.get().count == 1
    assert_consistent()


def test_out_of_order_tasks_count_the_latest_state_once(world: World) -> None:
    """The tasks of register, correct and withdraw arrive in any order, some twice: the last state wins."""
    refusal = refusal_register(by=world.midwife, data=data(world))
    refusal_correct(
        refusal_id=refusal.pk,
        by=world.midwife,
        data=data(world, reason=Refusal.Reason.NO_NEONATAL_BED),
        expected_version=1,
    )
    # The correction's task runs first, the registration's task later (both read the current row).
    assert aggregation.aggregate(refusal.pk) == "counted"
    assert aggregation.aggregate(refusal.pk) == "unchanged"
    assert RefusalDaily.objects.get().reason == "no_neonatal_bed"

    refusal_withdraw(refusal_id=refusal.pk, by=world.midwife, expected_version=2)
    assert aggregation.aggregate(refusal.pk) == "removed"
    assert aggregation.aggregate(refusal.pk) == "unchanged"
    assert not RefusalDaily.objects.exists()
    assert not RefusalHourly.objects.exists()
    assert_consistent()


def test_a_correction_within_the_same_rows_only_catches_up_the_version(world: World) -> None:
    refusal = refusal_register(by=world.midwife, data=data(world, note="first"))
    aggregation.aggregate(refusal.pk)
    refusal_correct(
        refusal_id=refusal.pk, by=world.midwife, data=data(world, occurred_at=refusal.occurred_at), expected_version=1
    )
    assert list(aggregation.pending()) == [refusal]
    assert aggregation.aggregate(refusal.pk) == "version"
    assert RefusalDaily.objects.get().count == 1
    assert_consistent()


def test_missing_refusal_is_harmless(db: None) -> None:
    assert aggregation.aggregate(987654) == "missing"


def test_sweep_counts_what_was_missed_once(world: World) -> None:
    refusals = [refusal_register(by=world.midwife, data=data(world)) for _ in range(3)]
    refusal_withdraw(refusal_id=refusals[0].pk, by=world.midwife, expected_version=1)
    assert aggregation.pending().count() == 3

    result = aggregation.sweep(limit=2)
    assert result["pending"] == 2
    assert aggregation.pending().count() == 1
    assert aggregation.sweep()["pending"] == 1
    assert aggregation.sweep() == {"pending": 0}
    assert RefusalDaily.objects.get().count == 2
    assert_consistent()


def test_a_sweep_stops_when_its_time_is_up_and_leaves_the_rest_pending(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task's soft time limit must end the sweep, not be logged as one broken refusal (docs/operations.md)."""
    from celery.exceptions import SoftTimeLimitExceeded

    for _ in range(3):
        refusal_register(by=world.midwife, data=data(world))
    real = aggregation.aggregate
    calls = []

    def aggregate_until_time_is_up(refusal_id: int) -> str:
        calls.append(refusal_id)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded()
        return real(refusal_id)

    monkeypatch.setattr(aggregation, "aggregate", aggregate_until_time_is_up)
    with pytest.raises(SoftTimeLimitExceeded):
        aggregation.sweep()
    assert len(calls) == 2 and aggregation.pending().count() == 2


def test_sweep_task_runs_the_sweep(world: World) -> None:
    from refusals.tasks import sweep_unaggregated

    refusal_register(by=world.midwife, data=data(world))
    assert sweep_unaggregated.delay().get() == {"pending": 1, "counted": 1}
    assert_consistent()


def test_enqueue_never_raises(world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from refusals import tasks

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.aggregate_refusal, "apply_async", broken)
    with caplog.at_level(logging.WARNING, logger="refusals.tasks"):
        tasks.enqueue(1)
    assert "sweep will count it" in caplog.text


def test_registration_survives_a_failing_aggregation(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """In embedded mode the task runs inside the request: its failure must not reach the midwife."""

    def fail(refusal_id: int) -> str:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(aggregation, "aggregate", fail)
    with django_capture_on_commit_callbacks(execute=True):
        refusal = refusal_register(by=world.midwife, data=data(world))
    assert Refusal.objects.filter(pk=refusal.pk).exists()
    monkeypatch.undo()
    assert aggregation.sweep()["counted"] == 1
    assert_consistent()


def test_rebuild_equals_live_rollups(world: World, django_capture_on_commit_callbacks: Any) -> None:
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        a = refusal_register(by=world.midwife, data=data(world, occurred_at=now - timedelta(days=3)))
        b = refusal_register(by=world.midwife, data=data(world, location_id=world.other_location.pk))
        refusal_register(by=world.midwife, data=data(world, location_id=world.far_location.pk))
        refusal_register(by=world.midwife, data=data(world, reason=Refusal.Reason.ADMISSION_STOP))
    with django_capture_on_commit_callbacks(execute=True):
        refusal_correct(
            refusal_id=a.pk,
            by=world.midwife,
            data=data(world, occurred_at=now - timedelta(days=5, hours=7)),
            expected_version=1,
        )
        refusal_withdraw(refusal_id=b.pk, by=world.midwife, expected_version=1)

    def snapshot() -> tuple[object, ...]:
        return (
            sorted(
                RefusalDaily.objects.values_list(
                    "day", "region_id", "location_id", "care_type", "reason", "count", "count_board_showed_room"
                )
            ),
            sorted(
                RefusalMonthly.objects.values_list(
                    "month", "region_id", "location_id", "care_type", "reason", "count", "count_board_showed_room"
                )
            ),
            sorted(RefusalHourly.objects.values_list("region_id", "location_id", "weekday", "hour", "count")),
            sorted(
                RefusalTally.objects.values_list(
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
                )
            ),
        )

    live = snapshot()
    result = aggregation.rebuild()
    assert result == {
        "refusals": 4,
        "counted": 3,
        "withdrawn": 1,
        "daily_rows": RefusalDaily.objects.count(),
        "monthly_rows": RefusalMonthly.objects.count(),
        "hourly_rows": RefusalHourly.objects.count(),
    }
    assert snapshot() == live
    assert_consistent()
    # And live aggregation after a rebuild changes nothing.
    assert {aggregation.aggregate(pk) for pk in Refusal.objects.values_list("pk", flat=True)} == {"unchanged"}
    assert snapshot() == live


def test_rebuild_repairs_drift(world: World) -> None:
    for _ in range(2):
        refusal_register(by=world.midwife, data=data(world))
    aggregation.sweep()
    RefusalDaily.objects.update(count=7)
    RefusalHourly.objects.all().delete()
    assert aggregation.differences()
    aggregation.rebuild()
    assert aggregation.differences() == []
    assert RefusalDaily.objects.get().count == 2
    assert_consistent()


def test_local_day_and_hour_follow_amsterdam_time(world: World) -> None:
    # 23:30 UTC in summer is 01:30 the next day in Amsterdam (UTC+2).
    at = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0, tzinfo=UTC) - timedelta(days=1)
    refusal = Refusal.objects.create(
        occurred_at=at,
        location=world.location,
        region=world.region,
        care_type="overdracht",
        reason="other",
        outcome="home",
        registered_by=world.midwife,
    )
    aggregation.aggregate(refusal.pk)
    when = at.astimezone(AMS)
    row = RefusalHourly.objects.get()
    assert (row.weekday, row.hour) == (when.weekday(), when.hour)
    assert when.hour in (0, 1)  # CET or CEST, never the UTC hour
    assert RefusalDaily.objects.get().day == when.date()
    live = (aggregation.daily_from_rollups(), aggregation.hourly_from_rollups())
    aggregation.rebuild()
    assert (aggregation.daily_from_rollups(), aggregation.hourly_from_rollups()) == live
    assert_consistent()


def test_read_helpers_filter_by_region_and_period(world: World) -> None:
    now = timezone.now()
    for location, days in ((world.location, 1), (world.location, 3), (world.far_location, 1)):
        refusal_register(
            by=world.midwife, data=data(world, location_id=location.pk, occurred_at=now - timedelta(days=days))
        )
    aggregation.sweep()
    today = now.astimezone(AMS).date()
    start, end = today - timedelta(days=2), today + timedelta(days=1)
    for reader in (aggregation.daily_from_refusals, aggregation.daily_from_rollups):
        counts = reader(region_id=world.region.pk, start=start, end=end)
        assert sum(n for n, _room in counts.values()) == 1
        assert all(start <= key[0] < end for key in counts)
    assert aggregation.hourly_from_refusals(region_id=world.other_region.pk) == aggregation.hourly_from_rollups(
        region_id=world.other_region.pk
    )
    assert isinstance(next(iter(aggregation.daily_from_rollups()))[0], date)


def test_command_rebuilds_and_checks(world: World) -> None:
    refusal_register(by=world.midwife, data=data(world))
    refusal_register(by=world.midwife, data=data(world, location_id=world.far_location.pk))

    # Not yet aggregated: the check fails and says why.
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_refusal_rollups", "--check", stdout=out, stderr=err)
    assert "2 refusal(s) not yet aggregated" in out.getvalue()
    assert "daily" in err.getvalue()

    out = StringIO()
    call_command("rebuild_refusal_rollups", stdout=out)
    assert "from 2 refusals (2 counted, 0 withdrawn): 2 daily rows, 2 monthly rows, 2 hourly rows" in out.getvalue()

    out = StringIO()
    call_command("rebuild_refusal_rollups", "--check", stdout=out)
    assert "match" in out.getvalue()


def test_command_check_exits_non_zero_on_drift(world: World) -> None:
    refusal_register(by=world.midwife, data=data(world))
    aggregation.sweep()
    RefusalDaily.objects.update(count_board_showed_room=0, count=5)
    with pytest.raises(CommandError) as exc:
        call_command("rebuild_refusal_rollups", "--check", stderr=StringIO(), stdout=StringIO())
    # manage.py turns a CommandError into this exit status.
    assert exc.value.returncode == 1


def test_sweep_is_scheduled_every_minute(settings: Settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["refusals-sweep"]
    assert entry["task"] == "refusals.tasks.sweep_unaggregated"
    assert entry["schedule"] == 60
    assert entry["task"] in app.tasks


@pytest.mark.django_db(transaction=True)
def test_concurrent_aggregation_and_rebuild_count_each_refusal_once(world: World) -> None:
    """Threads aggregate refusals that share rollup rows, each twice, while a rebuild runs (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers; this is about PostgreSQL row locks")
    ids = [refusal_register(by=world.midwife, data=data(world)).pk for _ in range(24)]
    for pk in ids[:8]:  # some are moved, some withdrawn, before anything is counted
        refusal_correct(refusal_id=pk, by=world.midwife, data=data(world, reason="other"), expected_version=None)
    for pk in ids[8:12]:
        refusal_withdraw(refusal_id=pk, by=world.midwife, expected_version=None)
    work = ids * 2
    random.Random(7).shuffle(work)
    errors: list[BaseException] = []

    def run(chunk: list[int], rebuild: bool) -> None:
        try:
            for i, pk in enumerate(chunk):
                aggregation.aggregate(pk)
                if rebuild and i == len(chunk) // 2:
                    aggregation.rebuild()
        except Exception as exc:  # noqa: BLE001 (reported by the test thread below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work[i::6], i == 0)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert_consistent()
    assert sum(n for n, _ in aggregation.daily_from_rollups().values()) == 20
