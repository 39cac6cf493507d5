"""A placement request's deadline survives a worker killed while it holds the deadline task.

Real worker processes on the Redis broker (the harness of tests/test_task_redelivery.py). The
request's deadline task (``expire_request``, scheduled with an ETA) is taken by a first worker,
which keeps it unacknowledged until the deadline; that worker is killed with SIGKILL; a second
worker gets the same message after the visibility timeout and expires the request at its
deadline. No beat sweep runs: the durable task alone keeps the deadline.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from config.celery import app
from placements.models import PlacementEvent, PlacementRequest
from placements.tasks import expire_request
from refusals.models import Refusal
from tests.conftest import World
from tests.live_server import services_missing
from tests.test_placement_services import send
from tests.test_task_redelivery import REDELIVERY_BOUND, kill_hard, log_of, unacked, wait_for, worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
# Far enough ahead that the first worker is up, holds the task and is killed before it is due.
DUE_IN = timedelta(seconds=25)


@pytest.fixture(autouse=True)
def needs_services() -> None:
    if (why := services_missing()) is not None:
        pytest.skip(why)


def test_a_deadline_held_by_a_killed_worker_still_expires_the_request(world: World, tmp_path: Path) -> None:
    request = send(world)
    deadline = timezone.now() + DUE_IN
    PlacementRequest.objects.filter(pk=request.pk).update(deadline=deadline)
    queue = f"test-deadline-{uuid.uuid4().hex}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with worker(queue, "first", tmp_path) as first:
            task_id = expire_request.apply_async((request.pk,), eta=deadline, queue=queue).id
            assert wait_for(lambda: unacked(broker, task_id), timeout=60), (
                "the first worker never took the deadline task:\n" + log_of(tmp_path, "first")
            )
            kill_hard(first)
        assert timezone.now() < deadline, "the machine was too slow to kill the worker before the deadline"
        assert PlacementRequest.objects.get(pk=request.pk).state == "sent"
        assert unacked(broker, task_id), "the killed worker's deadline task must wait in unacked, not be lost"

        with worker(queue, "second", tmp_path):
            expired = wait_for(
                lambda: PlacementRequest.objects.get(pk=request.pk).state == "expired",
                timeout=DUE_IN.total_seconds() + REDELIVERY_BOUND,
            )
            assert expired, "the deadline task was not run by the next worker:\n" + log_of(tmp_path, "second")
            assert task_id in log_of(tmp_path, "second")  # the same message, not a new one
            assert wait_for(lambda: not unacked(broker, task_id), timeout=10), "the redelivered task was not acked"
    finally:
        with app.connection_for_write() as conn:
            declared = app.amqp.queues[queue](conn.default_channel)
            declared.declare()
            declared.delete()
        broker.close()

    expiry = PlacementEvent.objects.get(request=request, after="expired")
    assert expiry.at >= deadline, "expired before its deadline"
    # The expiry is a refusal, once.
    assert Refusal.objects.filter(source="request").count() == 1
