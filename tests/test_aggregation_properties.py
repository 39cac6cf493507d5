"""Property: whatever happens to the aggregation tasks, the rollups end equal to counting the refusals.

Hypothesis draws random sequences of register / correct / withdraw through the services,
and of what the broker and worker do with the tasks those enqueue: deliver one (in any
order), deliver it again (a redelivery), lose it, aggregate directly, sweep, rebuild.
After every sweep or rebuild, and at the end after a final sweep, the rollups must be
exactly what GROUP BY over the refusals gives. At every step the rollups must be exactly
what the tallies say (no refusal counted twice, none counted where it is not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.celery import app
from refusals import aggregation
from refusals.aggregation import DailyKey
from refusals.models import Refusal, RefusalDaily, RefusalEvent, RefusalHourly, RefusalMonthly, RefusalTally
from refusals.services import RefusalInput, refusal_correct, refusal_register, refusal_withdraw
from tests.conftest import World

pytestmark = pytest.mark.django_db

REASONS = list(Refusal.Reason.values)
CARE_TYPES = list(Refusal.CareType.values)

facts = st.fixed_dictionaries(
    {
        "location": st.integers(0, 2),
        "reason": st.sampled_from(REASONS),
        "care_type": st.sampled_from(CARE_TYPES),
        # Up to ~6.5 days back, to the minute: crosses local midnights (and DST when it falls there).
        "minutes_ago": st.integers(0, 9400),
    }
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("register"), facts),
        st.tuples(st.just("correct"), st.integers(0, 50), facts),
        st.tuples(st.just("withdraw"), st.integers(0, 50)),
        st.tuples(st.just("deliver"), st.integers(0, 50), st.booleans()),  # bool: delivered again later
        st.tuples(st.just("lose"), st.integers(0, 50)),
        st.tuples(st.just("aggregate"), st.integers(0, 50)),
        st.tuples(st.just("sweep"), st.integers(1, 4)),
        st.tuples(st.just("rebuild")),
    ),
    max_size=25,
)


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


def fresh_state() -> None:
    RefusalTally.objects.all().delete()
    RefusalDaily.objects.all().delete()
    RefusalMonthly.objects.all().delete()
    RefusalHourly.objects.all().delete()
    RefusalEvent.objects.all().delete()  # a queryset delete: the append-only guard is on instances
    Refusal.objects.all().delete()


def rollups_match_tallies() -> None:
    daily: Counter[DailyKey] = Counter()
    room: Counter[DailyKey] = Counter()
    hourly: Counter[tuple[object, ...]] = Counter()
    for t in RefusalTally.objects.filter(day__isnull=False):
        assert t.day and t.region_id and t.location_id  # tallies of a day always have all three
        key = (t.day, t.region_id, t.location_id, t.care_type, t.reason)
        daily[key] += 1
        room[key] += int(t.board_showed_room)
        hourly[(t.region_id, t.location_id, t.weekday, t.hour)] += 1
    assert aggregation.daily_from_rollups() == {k: (n, room[k]) for k, n in daily.items()}
    assert aggregation.monthly_from_rollups() == aggregation.by_month({k: (n, room[k]) for k, n in daily.items()})
    assert aggregation.hourly_from_rollups() == dict(hourly)
    # Nothing kept at zero.
    assert not RefusalDaily.objects.filter(count=0).exists()
    assert not RefusalMonthly.objects.filter(count=0).exists()
    assert not RefusalHourly.objects.filter(count=0).exists()


def rollups_match_refusals() -> None:
    assert aggregation.daily_from_rollups() == aggregation.daily_from_refusals()
    assert aggregation.monthly_from_rollups() == aggregation.by_month(aggregation.daily_from_refusals())
    assert aggregation.hourly_from_rollups() == aggregation.hourly_from_refusals()
    # The totals a coordinator reads.
    total = Refusal.objects.filter(withdrawn_at__isnull=True).count()
    assert sum(n for n, _room in aggregation.daily_from_rollups().values()) == total
    assert sum(aggregation.hourly_from_rollups().values()) == total


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_any_task_history_gives_the_direct_counts(
    world: World,
    django_capture_on_commit_callbacks: Any,
    ops: list[tuple[Any, ...]],
) -> None:
    fresh_state()
    locations = [world.location, world.other_location, world.far_location]
    now = timezone.now()
    refusals: list[int] = []
    queue: list[int] = []  # refusal ids of tasks sent to the broker, not yet delivered

    def data(f: dict[str, Any]) -> RefusalInput:
        return RefusalInput(
            occurred_at=now - timedelta(minutes=f["minutes_ago"]),
            location_id=locations[f["location"]].pk,
            care_type=f["care_type"],
            reason=f["reason"],
            outcome=Refusal.Outcome.HOME,
        )

    def write(service: Any, **kwargs: Any) -> None:
        # The after-commit enqueue is captured, not run: what becomes of the task is drawn below.
        try:
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                refusal = service(by=world.midwife, **kwargs)
        except PermissionDenied:  # correcting or withdrawing a withdrawn refusal
            return
        assert len(callbacks) == 1
        if refusal.pk not in refusals:
            refusals.append(refusal.pk)
        queue.append(refusal.pk)

    for op in ops:
        name = op[0]
        if name == "register":
            write(refusal_register, data=data(op[1]))
        elif name == "correct" and refusals:
            write(refusal_correct, refusal_id=refusals[op[1] % len(refusals)], data=data(op[2]), expected_version=None)
        elif name == "withdraw" and refusals:
            write(refusal_withdraw, refusal_id=refusals[op[1] % len(refusals)], expected_version=None)
        elif name == "deliver" and queue:
            refusal_id = queue[op[1] % len(queue)]
            aggregation.aggregate(refusal_id)  # what the worker's task runs
            if not op[2]:
                queue.remove(refusal_id)
        elif name == "lose" and queue:
            queue.pop(op[1] % len(queue))
        elif name == "aggregate" and refusals:
            aggregation.aggregate(refusals[op[1] % len(refusals)])
        elif name == "sweep":
            aggregation.sweep(limit=op[1])
            if not aggregation.pending().exists():
                rollups_match_refusals()
        elif name == "rebuild":
            result = aggregation.rebuild()
            assert result["refusals"] == len(refusals)
            rollups_match_refusals()
        rollups_match_tallies()

    # Beat keeps sweeping until nothing is pending; then the counts are the direct counts.
    while aggregation.sweep(limit=10)["pending"]:
        pass
    rollups_match_tallies()
    rollups_match_refusals()
    # And whatever tasks are still in flight, delivered late, change nothing.
    for refusal_id in queue:
        assert aggregation.aggregate(refusal_id) == "unchanged"
    rollups_match_refusals()
