"""The staleness task as production runs it: enqueued on Redis, executed by a real Celery worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
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
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)  # type: ignore[attr-defined]
        # The worker thread's own database connection must not keep the test database open.
        connections.close_all()


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
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

    # A second run on the worker (a beat tick) changes nothing.
    flagged_at = Unit.objects.get(pk=world.unit.pk).stale_flagged_at
    check_staleness.delay()
    check_staleness.delay()
    time.sleep(1.0)
    assert CapacityEvent.objects.filter(action="stale").count() == 1
    assert Unit.objects.get(pk=world.unit.pk).stale_flagged_at == flagged_at
    assert not Unit.objects.exclude(pk=world.unit.pk).filter(stale_flagged_at__isnull=False).exists()
