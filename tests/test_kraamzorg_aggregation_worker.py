"""Shortage aggregation as production runs it: real Celery worker processes on Redis and PostgreSQL.

A worker process (``celery -A config worker``, prefork, as the Procfile runs it) is killed with
SIGKILL in the middle of a task: the task is made to block, with no test hook in the code, by a
second database connection holding the shortage's row lock, which ``aggregation.aggregate`` takes
inside its transaction. Meanwhile a shortage is withdrawn (its task waits in the queue) and one is
registered while the broker is unreachable (no task at all: only the sweep can count it). Then a
second worker starts, the beat's sweep runs on it, the killed worker's message comes back, and
the counts are exact: every live shortage once, the withdrawn one nowhere.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.utils import timezone

from config.celery import app
from hospitals.models import Postcode
from kraamzorg import aggregation
from kraamzorg.models import Shortage, ShortageTally, ShortageWeekly, monday_of
from kraamzorg.shortages import ShortageInput, shortage_register, shortage_withdraw
from kraamzorg.tasks import sweep_shortages
from tests.conftest import World
from tests.live_server import database_url_for_servers, services_missing
from tests.test_aggregation_worker import UNREACHABLE_BROKER, celery_conf
from tests.test_task_redelivery import REDELIVERY_BOUND, kill_hard, lock_waits, log_of, wait_for, worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def needs_services() -> None:
    if (why := services_missing()) is not None:
        pytest.skip(why)


@pytest.fixture(autouse=True)
def postcodes(needs_services: None) -> None:
    for pc4, municipality in (("3584", "Utrecht"), ("3432", "Nieuwegein")):
        Postcode.objects.create(pk=pc4, place=municipality, municipality=municipality, province="Utrecht",
                                latitude=52.08, longitude=5.17)  # fmt: skip


def data(**kw: Any) -> ShortageInput:
    fields: dict[str, Any] = {
        "pc4": "3584", "due_week": monday_of(timezone.localdate()) + timedelta(weeks=2), "indicated_hours": 49,
        "promised_hours": 24, "reason": Shortage.Reason.STAFF, "vulnerable": Shortage.Vulnerable.UNKNOWN,
    }  # fmt: skip
    fields.update(kw)
    return ShortageInput(**fields)


def unacked_on(broker: redis.Redis, queue: str) -> int:
    """Messages of this queue taken by a worker and not acknowledged (Redis' ``unacked`` hash)."""
    return sum(queue.encode() in value for value in broker.hvals("unacked"))


def totals() -> tuple[int, int]:
    rows = list(ShortageWeekly.objects.values_list("count", "hours_short"))
    return sum(n for n, _h in rows), sum(h for _n, h in rows)


def test_a_worker_killed_mid_task_then_the_next_worker_and_the_sweep_count_exactly(
    world: World, tmp_path: Path
) -> None:
    queue = f"test-kraamzorg-{uuid.uuid4().hex}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    lock = psycopg.connect(database_url_for_servers())
    try:
        with celery_conf(broker_url=settings.REDIS_URL, task_always_eager=False, task_default_queue=queue):
            # Queued before any worker runs: the blocker first, then four more (two rows).
            blocker = shortage_register(by=world.midwife, data=data(promised_hours=0))
            others = [shortage_register(by=world.midwife, data=data(pc4="3432" if i % 2 else "3584")) for i in range(4)]
            # Hold the blocker's row from another connection: its task will block inside aggregate().
            lock.execute("SELECT id FROM kraamzorg_shortage WHERE id = %s FOR UPDATE", [blocker.pk])
            with worker(queue, "first", tmp_path) as first:
                assert wait_for(lambda: lock_waits() >= 1, timeout=60), (
                    "the first worker never reached the row lock:\n" + log_of(tmp_path, "first")
                )
                assert unacked_on(broker, queue) == 1  # the blocked task's message, held
                # While the worker is stuck: one registration is withdrawn (its task queues up) ...
                shortage_withdraw(shortage_id=others[0].pk, by=world.midwife, expected_version=1)
                kill_hard(first)
        lock.rollback()  # the killed worker's transaction never committed; the row is free again
        assert unacked_on(broker, queue) == 1, "the killed worker's message must wait in unacked, not be lost"
        assert totals() == (0, 0)
        assert not ShortageTally.objects.exists()

        # ... and one is registered while the broker is unreachable: no task, the request still succeeds.
        with celery_conf(broker_url=UNREACHABLE_BROKER, task_always_eager=False):
            started = time.monotonic()
            missed = shortage_register(by=world.midwife, data=data(vulnerable="yes", promised_hours=40))
            assert time.monotonic() - started < 10
        assert missed.events.count() == 1

        with (
            celery_conf(broker_url=settings.REDIS_URL, task_always_eager=False, task_default_queue=queue),
            worker(queue, "second", tmp_path),
        ):
            sweep_shortages.delay()  # the beat's tick, onto the second worker
            assert wait_for(lambda: not aggregation.pending().exists(), timeout=60), (
                "the second worker did not catch up:\n" + log_of(tmp_path, "second")
            )
            # The killed worker's message comes back and finds nothing to do.
            assert wait_for(lambda: unacked_on(broker, queue) == 0, timeout=REDELIVERY_BOUND), (
                "the killed worker's message was never redelivered and acked:\n" + log_of(tmp_path, "second")
            )
            sweep_shortages.delay()  # another tick: nothing pending, nothing changes
            time.sleep(1)
    finally:
        lock.close()
        with celery_conf(broker_url=settings.REDIS_URL), app.connection_for_write() as conn:
            declared = app.amqp.queues[queue](conn.default_channel)
            declared.declare()
            declared.delete()
        broker.close()

    # Exact: the blocker (49 short), three of the four (25 each), the one the broker never saw (9).
    assert totals() == (5, 49 + 3 * 25 + 9)
    assert ShortageWeekly.objects.get(pc4="3432").count == 2
    assert ShortageWeekly.objects.get(pc4="3584", vulnerable="yes").count == 1
    assert ShortageTally.objects.get(shortage=others[0]).due_week is None  # withdrawn: counted nowhere
    assert not aggregation.pending().exists()
    assert aggregation.differences() == []
