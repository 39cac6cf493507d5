"""Refusal aggregation as production runs it: a real Celery worker on the Redis broker.

Also the failure the pipeline is built for: the broker is unreachable when the midwife
registers. The refusal is stored all the same, and the beat sweep counts it once later.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connections
from django.utils import timezone

from config.celery import app
from refusals import aggregation
from refusals.models import Refusal, RefusalDaily, RefusalHourly, RefusalTally
from refusals.services import RefusalInput, refusal_correct, refusal_register
from refusals.tasks import aggregate_refusal, sweep_unaggregated
from tests.conftest import World

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def _reset_broker_pools() -> None:
    """Forget pooled broker connections, so the next publish connects to the configured broker_url."""
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@contextmanager
def celery_conf(**changes: object) -> Iterator[None]:
    saved = {key: app.conf[key] for key in changes}
    app.conf.update(changes)
    _reset_broker_pools()
    try:
        yield
    finally:
        app.conf.update(saved)
        _reset_broker_pools()


@contextmanager
def redis_worker() -> Iterator[str]:
    """A solo worker thread on the Redis broker, on a queue of its own (other runs may share the Redis)."""
    queue = f"test-aggregation-{uuid.uuid4().hex}"
    try:
        with (
            celery_conf(
                broker_url=settings.REDIS_URL,
                task_always_eager=False,
                task_default_queue=queue,
                worker_hijack_root_logger=False,
            ),
            start_worker(app, perform_ping_check=False, pool="solo", queues=[queue], shutdown_timeout=15),
        ):
            yield queue
    finally:
        with celery_conf(broker_url=settings.REDIS_URL), app.connection_for_write() as conn:
            declared = app.amqp.queues[queue](conn.default_channel)
            declared.declare()
            declared.delete()
        # The worker thread's own database connection must not keep the test database open.
        connections.close_all()


@pytest.fixture(autouse=True)
def needs_redis() -> None:
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: a real broker")


@pytest.fixture
def finished_in() -> Iterator[dict[str, str]]:
    """task id → name of the thread that ran it, for every task that finished."""
    finished: dict[str, str] = {}

    def on_postrun(task_id: str, **_kwargs: object) -> None:
        finished[task_id] = threading.current_thread().name

    task_postrun.connect(on_postrun, weak=False)
    try:
        yield finished
    finally:
        task_postrun.disconnect(on_postrun)


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def data(world: World, **changes: object) -> RefusalInput:
    fields: dict[str, Any] = {
        "occurred_at": timezone.now() - timedelta(minutes=20),
        "location_id": world.location.pk,
        "care_type": Refusal.CareType.OVERDRACHT,
        "reason": Refusal.Reason.NO_STAFF,
        "outcome": Refusal.Outcome.UNKNOWN,
    }
    fields.update(changes)
    return RefusalInput(**fields)


def counted() -> int:
    return sum(RefusalDaily.objects.values_list("count", flat=True))


def test_worker_aggregates_a_registration_and_its_correction(world: World, finished_in: dict[str, str]) -> None:
    with redis_worker():
        refusal = refusal_register(by=world.midwife, data=data(world))
        assert wait_for(lambda: counted() == 1), "the worker did not count the refusal within 20 s"
        assert RefusalDaily.objects.get().reason == "no_staff"

        refusal_correct(
            refusal_id=refusal.pk,
            by=world.midwife,
            data=data(world, reason=Refusal.Reason.NO_DELIVERY_ROOM),
            expected_version=1,
        )
        assert wait_for(lambda: RefusalTally.objects.filter(refusal=refusal, version=2).exists())
        assert list(RefusalDaily.objects.values_list("reason", "count")) == [("no_delivery_room", 1)]

        # The same task delivered twice more (a redelivery after a lost ack): nothing changes.
        ids = {aggregate_refusal.delay(refusal.pk).id, aggregate_refusal.delay(refusal.pk).id}
        assert wait_for(lambda: ids <= set(finished_in)), "the worker did not run the repeated tasks"

    assert threading.current_thread().name not in set(finished_in.values())  # the worker ran them, not eagerly
    assert counted() == 1
    assert RefusalHourly.objects.get().count == 1
    assert aggregation.differences() == []


def test_broker_unreachable_at_registration_then_swept_once(
    world: World, caplog: pytest.LogCaptureFixture, finished_in: dict[str, str]
) -> None:
    with (
        celery_conf(broker_url=UNREACHABLE_BROKER, task_always_eager=False),
        caplog.at_level(logging.WARNING, logger="refusals.aggregation"),
    ):
        started = time.monotonic()
        refusal = refusal_register(by=world.midwife, data=data(world))
        elapsed = time.monotonic() - started

    # The midwife got her answer, promptly, and the refusal is stored with its history.
    assert elapsed < 10, f"registration took {elapsed:.1f} s with the broker down"
    assert Refusal.objects.filter(pk=refusal.pk, version=1).exists()
    assert refusal.events.count() == 1
    assert "sweep will count it" in caplog.text
    # Not counted yet: no task ever reached a worker.
    assert counted() == 0
    assert list(aggregation.pending()) == [refusal]

    # Later: the broker is back, beat's sweep runs on the worker and counts it.
    with redis_worker():
        sweep_id = sweep_unaggregated.delay().id
        assert wait_for(lambda: sweep_id in finished_in), "the worker did not run the sweep within 20 s"
        assert counted() == 1
        # Another tick, and a late task for the same refusal, count nothing more.
        ids = {sweep_unaggregated.delay().id, aggregate_refusal.delay(refusal.pk).id}
        assert wait_for(lambda: ids <= set(finished_in)), "the worker did not run the repeated tasks"

    assert finished_in[sweep_id] != threading.current_thread().name
    assert counted() == 1
    assert RefusalHourly.objects.get().count == 1
    assert not aggregation.pending().exists()
    assert aggregation.differences() == []
