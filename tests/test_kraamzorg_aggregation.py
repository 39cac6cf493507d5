"""kraamzorg.aggregation: shortages into ShortageWeekly, idempotent, withdrawals uncount, sweep, rebuild."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone
from pytest_django import Settings

from config.celery import app
from hospitals.models import Organisation, Postcode, User
from kraamzorg import aggregation, tasks
from kraamzorg.models import Shortage, ShortageTally, ShortageWeekly, monday_of
from kraamzorg.shortages import ShortageInput, shortage_register, shortage_withdraw
from kraamzorg.tasks import aggregate_shortage, sweep_shortages
from tests.conftest import Kraamzorg, World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    """Run tasks in-process, as embedded mode does (never publish to the shared Redis from here)."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def postcodes() -> None:
    for pc4, place, municipality in (("3584", "Utrecht", "Utrecht"), ("3432", "Nieuwegein", "Nieuwegein"),
                                     ("3585", "Utrecht", "Utrecht")):  # fmt: skip
        Postcode.objects.create(pk=pc4, place=place, municipality=municipality, province="Utrecht",
                                latitude=52.08, longitude=5.17)  # fmt: skip


@pytest.fixture
def other_region_midwife(world: World) -> User:
    practice = Organisation.objects.create(
        name="Praktijk Leiden", kind=Organisation.Kind.MIDWIFERY_PRACTICE, region=world.other_region
    )
    return User.objects.create_user(username="midwife_west", role=User.Role.MIDWIFE, organisation=practice)


def week(n: int) -> date:
    return monday_of(timezone.localdate()) + timedelta(weeks=n)


def data(**kw: Any) -> ShortageInput:
    fields: dict[str, Any] = {
        "pc4": "3584", "due_week": week(3), "indicated_hours": 49, "promised_hours": 24,
        "reason": Shortage.Reason.STAFF, "vulnerable": Shortage.Vulnerable.YES,
    }  # fmt: skip
    fields.update(kw)
    return ShortageInput(**fields)


def register(world: World, **kw: Any) -> Shortage:
    return shortage_register(by=world.midwife, data=data(**kw))


def assert_consistent() -> None:
    assert aggregation.weekly_from_rollups() == aggregation.weekly_from_shortages()
    assert aggregation.differences() == []
    assert not aggregation.pending().exists()


def test_a_registration_is_counted_after_commit_through_the_signal(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        shortage = register(world)
    assert aggregation.weekly_from_rollups() == {
        (world.region.pk, week(3), "Utrecht", "3584", "staff", "yes"): (1, 25),
    }
    tally = ShortageTally.objects.get(shortage=shortage)
    assert (tally.version, tally.due_week, tally.pc4, tally.hours_short) == (1, week(3), "3584", 25)
    assert_consistent()


def test_nothing_is_counted_before_commit(world: World) -> None:
    register(world)  # the test's transaction never commits: no task
    assert not ShortageWeekly.objects.exists()
    assert aggregation.pending().count() == 1


def test_counts_and_hours_add_up_per_row(world: World, kz: Kraamzorg) -> None:
    for promised in (0, 24, 40):
        aggregation.aggregate(register(world, promised_hours=promised).pk)
    aggregation.aggregate(shortage_register(by=kz.planner, data=data(promised_hours=10)).pk)
    aggregation.aggregate(register(world, pc4="3432", vulnerable="no").pk)
    rows = aggregation.weekly_from_rollups()
    assert rows[(world.region.pk, week(3), "Utrecht", "3584", "staff", "yes")] == (4, 49 + 25 + 9 + 39)
    assert rows[(world.region.pk, week(3), "Nieuwegein", "3432", "staff", "no")] == (1, 25)
    assert_consistent()


def test_aggregating_twice_counts_once(world: World) -> None:
    shortage = register(world)
    assert aggregation.aggregate(shortage.pk) == "counted"
    assert aggregation.aggregate(shortage.pk) == "unchanged"
    assert aggregate_shortage.delay(shortage.pk).get() == "unchanged"
    assert ShortageWeekly.objects.get().count == 1
    assert_consistent()


def test_a_withdrawal_uncounts_and_deletes_the_empty_row(world: World, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        shortage = register(world)
        kept = register(world, pc4="3432")
    with django_capture_on_commit_callbacks(execute=True):
        shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=1)
    assert aggregation.weekly_from_rollups() == {
        (world.region.pk, week(3), "Nieuwegein", "3432", "staff", "yes"): (1, 25)
    }
    tally = ShortageTally.objects.get(shortage=shortage)
    assert (tally.version, tally.due_week, tally.region_id, tally.pc4) == (2, None, None, "")
    assert aggregation.aggregate(shortage.pk) == "unchanged"
    assert aggregation.aggregate(kept.pk) == "unchanged"
    assert_consistent()


def test_a_stale_task_after_the_withdrawal_counts_nothing(world: World) -> None:
    shortage = register(world)
    shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=1)
    # The registration's task arrives after the withdrawal committed: it reads the shortage now.
    assert aggregation.aggregate(shortage.pk) == "version"
    assert not ShortageWeekly.objects.exists()
    assert aggregation.aggregate(shortage.pk) == "unchanged"
    assert_consistent()


def test_a_missing_shortage_is_harmless(db: None) -> None:
    assert aggregation.aggregate(987654) == "missing"


def test_the_sweep_counts_what_was_missed_once(world: World) -> None:
    first, second = register(world), register(world, pc4="3585")
    aggregation.aggregate(first.pk)
    shortage_withdraw(shortage_id=first.pk, by=world.midwife, expected_version=1)  # its tally is behind now
    assert list(aggregation.pending()) == [first, second]
    assert aggregation.sweep() == {"pending": 2, "removed": 1, "counted": 1}
    assert aggregation.sweep() == {"pending": 0}
    assert aggregation.weekly_from_rollups() == {(world.region.pk, week(3), "Utrecht", "3585", "staff", "yes"): (1, 25)}
    register(world)
    assert sweep_shortages.delay().get() == {"pending": 1, "counted": 1}
    assert_consistent()


def test_one_failing_shortage_does_not_block_the_sweep(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    broken, fine = register(world), register(world)
    real = aggregation.aggregate

    def flaky(shortage_id: int) -> aggregation.Outcome:
        if shortage_id == broken.pk:
            raise RuntimeError("boom")
        return real(shortage_id)

    monkeypatch.setattr(aggregation, "aggregate", flaky)
    assert aggregation.sweep() == {"pending": 2, "failed": 1, "counted": 1}
    assert list(aggregation.pending()) == [broken]
    monkeypatch.undo()
    assert aggregation.sweep()["counted"] == 1 and ShortageWeekly.objects.get().count == 2
    assert fine.pk != broken.pk


def test_enqueue_never_raises(world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.aggregate_shortage, "apply_async", broken)
    with caplog.at_level(logging.WARNING, logger="kraamzorg.tasks"):
        tasks.enqueue(1)
    assert "sweep will count it" in caplog.text


def test_a_registration_survives_a_failing_aggregation(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """In embedded mode the task runs inside the request: its failure must not reach the midwife."""

    def fail(shortage_id: int) -> str:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(aggregation, "aggregate", fail)
    with django_capture_on_commit_callbacks(execute=True):
        shortage = register(world)
    assert Shortage.objects.filter(pk=shortage.pk).exists()
    monkeypatch.undo()
    assert aggregation.sweep()["counted"] == 1
    assert_consistent()


def test_rebuild_equals_the_live_rollup(world: World, kz: Kraamzorg, other_region_midwife: User) -> None:
    shortages = [
        register(world),
        register(world, promised_hours=0, reason="no_intake", vulnerable="unknown"),
        register(world, pc4="3432", due_week=week(-2), vulnerable="no"),
        shortage_register(by=kz.planner, data=data(promised_hours=30)),
        shortage_register(by=other_region_midwife, data=data()),
    ]
    shortage_withdraw(shortage_id=shortages[1].pk, by=world.midwife, expected_version=1)
    for s in shortages:
        aggregation.aggregate(s.pk)
    live = aggregation.weekly_from_rollups()
    tallies = set(ShortageTally.objects.values_list(
        "shortage_id", "version", "region_id", "due_week", "municipality", "pc4", "reason", "vulnerable", "hours_short"
    ))  # fmt: skip
    assert aggregation.rebuild() == {"shortages": 5, "counted": 4, "withdrawn": 1, "weekly_rows": 3}
    assert aggregation.weekly_from_rollups() == live
    assert set(ShortageTally.objects.values_list(
        "shortage_id", "version", "region_id", "due_week", "municipality", "pc4", "reason", "vulnerable", "hours_short"
    )) == tallies  # fmt: skip
    assert aggregation.weekly_from_rollups(region_id=world.other_region.pk) == {
        (world.other_region.pk, week(3), "Utrecht", "3584", "staff", "yes"): (1, 25)
    }
    assert_consistent()


def test_rebuild_repairs_drift_and_the_command_checks(world: World) -> None:
    aggregation.aggregate(register(world).pk)
    aggregation.aggregate(register(world, pc4="3432").pk)
    out = StringIO()
    call_command("rebuild_kraamzorg_rollups", "--check", stdout=out)
    assert "rollups match the shortages" in out.getvalue()

    ShortageWeekly.objects.filter(pc4="3584").update(count=7)
    ShortageWeekly.objects.filter(pc4="3432").delete()
    err = StringIO()
    with pytest.raises(CommandError, match="differ from the shortages in 2 row"):
        call_command("rebuild_kraamzorg_rollups", "--check", stdout=StringIO(), stderr=err)
    assert "3432" in err.getvalue()
    # A withdrawal whose row went missing raises RollupDrift and stays pending.
    shortage = Shortage.objects.get(pc4="3432")
    shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=1)
    with pytest.raises(aggregation.RollupDrift):
        aggregation.aggregate(shortage.pk)
    assert list(aggregation.pending()) == [shortage]

    out = StringIO()
    call_command("rebuild_kraamzorg_rollups", stdout=out)
    assert "2 shortages (1 counted, 1 withdrawn): 1 weekly rows" in out.getvalue()
    assert_consistent()


def test_the_sweep_is_scheduled_every_minute(settings: Settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["kraamzorg-shortage-sweep"]
    assert (entry["task"], entry["schedule"]) == ("kraamzorg.tasks.sweep_shortages", 60)
    assert entry["task"] in app.tasks
    assert aggregate_shortage.acks_late and aggregate_shortage.reject_on_worker_lost
    assert sweep_shortages.acks_late and sweep_shortages.reject_on_worker_lost


@pytest.mark.django_db(transaction=True)
def test_concurrent_aggregation_of_different_shortages_and_a_rebuild_count_each_once(world: World) -> None:
    """Threads aggregate shortages that share rollup rows, each twice, while a rebuild runs (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers; this is about PostgreSQL row locks")
    ids = [register(world, promised_hours=i % 3 * 10).pk for i in range(24)]
    ids += [register(world, pc4="3432").pk for _ in range(6)]
    for pk in ids[:5]:
        shortage_withdraw(shortage_id=pk, by=world.midwife, expected_version=None)
    work = ids * 2
    random.Random(15).shuffle(work)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def run(chunk: list[int], rebuild: bool) -> None:
        try:
            start.wait()
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
    aggregation.sweep()  # a shortage the rebuild's snapshot caught mid-aggregation is pending at most
    assert_consistent()
    assert sum(n for n, _h in aggregation.weekly_from_rollups().values()) == 25
    assert ShortageWeekly.objects.get(pc4="3432").hours_short == 6 * 25
