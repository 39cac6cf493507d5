"""The staleness task as production runs it: enqueued on Redis, executed by a real Celery worker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connections
from django.utils import timezone

from capacity.models import CapacityEvent, Unit
from capacity.tasks import check_staleness
from config.celery import app
from tests.conftest import World

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_worker() -> Iterator[str]:
    """A solo worker thread on the Redis broker, on a queue of its own (other runs may share the Redis)."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: a real broker")
    queue = f"test-staleness-{uuid.uuid4().hex}"
    saved = {
        key: app.conf[key]
        for key in ("broker_url", "task_always_eager", "task_default_queue", "worker_hijack_root_logger")
    }
    app.conf.update(
        broker_url=settings.REDIS_URL,
        task_always_eager=False,
        task_default_queue=queue,
        worker_hijack_root_logger=False,
    )
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", queues=[queue], shutdown_timeout=15):
            yield queue
    finally:
        app.conf.update(saved)
        # Drop the queue with its binding keys, declared first so the channel knows the binding.
        with app.connection_for_write() as conn:
            declared = app.amqp.queues[queue](conn.default_channel)
            declared.declare()
            declared.delete()
        # The worker thread's own database connection must not keep the test database open.
        connections.close_all()


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_worker_flags_a_stale_unit_once(world: World, redis_worker: str, published: list[dict[str, object]]) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=timezone.now() - timedelta(hours=5))

    result = check_staleness.delay()

    assert result.id
    assert wait_for(lambda: Unit.objects.get(pk=world.unit.pk).stale_flagged_at is not None), (
        "the worker did not flag the stale unit within 20 s"
    )
    # The flag and its event commit together; the push follows the commit in the worker.
    assert wait_for(lambda: any(e["location_id"] == world.location.pk for e in published), timeout=5)
    [event] = CapacityEvent.objects.filter(action="stale")
    assert (event.unit_id, event.source, event.by_id) == (world.unit.pk, "system", None)

    # Two more beat ticks, run to completion by the worker, change nothing.
    finished: list[str] = []
    threads: set[str] = set()

    def on_postrun(task_id: str, **_kwargs: object) -> None:
        finished.append(task_id)
        threads.add(threading.current_thread().name)

    task_postrun.connect(on_postrun, weak=False)
    try:
        flagged_at = Unit.objects.get(pk=world.unit.pk).stale_flagged_at
        ids = {check_staleness.delay().id, check_staleness.delay().id}
        assert wait_for(lambda: ids <= set(finished)), "the worker did not run the repeated ticks within 20 s"
    finally:
        task_postrun.disconnect(on_postrun)
    assert threading.current_thread().name not in threads  # run by the worker, not eagerly here
    assert CapacityEvent.objects.filter(action="stale").count() == 1
    assert Unit.objects.get(pk=world.unit.pk).stale_flagged_at == flagged_at
    assert not Unit.objects.exclude(pk=world.unit.pk).filter(stale_flagged_at__isnull=False).exists()
