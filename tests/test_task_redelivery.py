"""A worker killed mid-task: its message goes to the next worker, soon, without the beat sweep.

Real worker processes (``celery -A config worker``, prefork, as the Procfile runs them) on the
Redis broker. The aggregation task is made to block mid-way with no test hook in the code: the
test holds the refusal's row lock, which ``aggregation.aggregate`` takes after it started its
transaction. Then the whole worker (main process and pool child) is killed with SIGKILL,
the lock is released, and a second worker is started. Nothing runs the sweep.

Before durable delivery the message sat in Redis' ``unacked`` hash for kombu's default
visibility timeout of one hour; now it comes back after ``CELERY_VISIBILITY_TIMEOUT`` (here
set low, with the time limits below it, as config/settings.py requires).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.tasks import check_staleness
from config.celery import app
from hospitals.tasks import purge_access_log
from refusals import aggregation
from refusals.models import Refusal, RefusalDaily, RefusalHourly, RefusalTally
from refusals.services import RefusalInput, refusal_register
from refusals.tasks import aggregate_refusal, check_alerts, sweep_unaggregated
from tests.conftest import World
from tests.live_server import BASE_DIR, database_url_for_servers, server_env, services_missing

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

# Small so the test is quick; production defaults are 100 / 120 / 180 s (docs/operations.md).
SOFT_LIMIT, HARD_LIMIT, VISIBILITY = 8, 10, 12
# kombu looks for expired unacked messages every 10 s (unacked_restore_interval) and when a
# worker starts. So the second worker gets the message at most about VISIBILITY + 10 s after the
# kill, plus its start-up; the bound leaves generous headroom for a busy 2-core machine and is
# still two orders of magnitude below the old one hour.
REDELIVERY_BOUND = 60.0


@pytest.fixture(autouse=True)
def needs_services() -> None:
    if (why := services_missing()) is not None:
        pytest.skip(why)


def wait_for(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@contextmanager
def worker(queue: str, name: str, log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process in a session of its own, so SIGKILL reaches its pool child too."""
    env = server_env()
    env.update(
        CELERY_TASK_SOFT_TIME_LIMIT=str(SOFT_LIMIT),
        CELERY_TASK_TIME_LIMIT=str(HARD_LIMIT),
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY),
        LOG_FORMAT="text",
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "--loglevel=INFO",
        f"--queues={queue}",
        f"--hostname={name}-{uuid.uuid4().hex[:8]}@localhost",
    ]
    with (log_dir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """What a crashed machine or an OOM-killed container does: no warm shutdown, no restore."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def lock_waits() -> int:
    """Backends of this test database waiting on a lock (the blocked task).

    Asked on a connection of its own: inside the test's transaction pg_stat_activity would
    show the snapshot taken at its first read.
    """
    with psycopg.connect(database_url_for_servers(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def unacked(broker: redis.Redis, task_id: str) -> bool:
    """Whether the task's message is in the broker's unacked hash (taken, not yet acknowledged)."""
    return any(task_id.encode() in value for value in broker.hvals("unacked"))


def counted() -> int:
    return sum(RefusalDaily.objects.values_list("count", flat=True))


def log_of(log_dir: Path, name: str) -> str:
    path = log_dir / f"{name}.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def test_a_message_of_a_killed_worker_is_processed_by_the_next_without_the_sweep(world: World, tmp_path: Path) -> None:
    refusal = refusal_register(
        by=world.midwife,
        data=RefusalInput(
            occurred_at=timezone.now() - timedelta(minutes=20),
            location_id=world.location.pk,
            care_type=Refusal.CareType.OVERDRACHT,
            reason=Refusal.Reason.NO_STAFF,
            outcome=Refusal.Outcome.UNKNOWN,
        ),
    )
    queue = f"test-redelivery-{uuid.uuid4().hex}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with transaction.atomic():
            # Hold the refusal's row: the task will block inside aggregate(), mid-transaction.
            Refusal.objects.select_for_update().get(pk=refusal.pk)
            with worker(queue, "first", tmp_path) as first:
                task_id = aggregate_refusal.apply_async((refusal.pk,), queue=queue).id
                assert wait_for(lambda: lock_waits() >= 1, timeout=60), (
                    "the first worker never reached the row lock:\n" + log_of(tmp_path, "first")
                )
                assert unacked(broker, task_id), "a running task's message must be held as unacked"
                kill_hard(first)
                killed_at = time.monotonic()
        # The lock is released; the killed worker's transaction never committed.
        assert not RefusalTally.objects.filter(refusal=refusal).exists()
        assert counted() == 0
        assert unacked(broker, task_id), "the killed worker's message must wait in unacked, not be lost"

        with worker(queue, "second", tmp_path):
            processed = wait_for(lambda: counted() == 1, timeout=REDELIVERY_BOUND)
            elapsed = time.monotonic() - killed_at
            assert processed, f"the message was not processed within {REDELIVERY_BOUND:.0f} s of the kill:\n" + log_of(
                tmp_path, "second"
            )
            assert wait_for(lambda: not unacked(broker, task_id), timeout=10), "the redelivered message was not acked"
            assert task_id in log_of(tmp_path, "second")  # the same message, not a new one
    finally:
        with app.connection_for_write() as conn:
            declared = app.amqp.queues[queue](conn.default_channel)
            declared.declare()
            declared.delete()
        broker.close()

    assert elapsed < REDELIVERY_BOUND
    # Exact counts, no beat sweep: counted once, where it belongs.
    assert counted() == 1
    assert RefusalHourly.objects.get().count == 1
    assert RefusalTally.objects.get(refusal=refusal).version == 1
    assert aggregation.differences() == []


def test_the_visibility_timeout_fits_the_longest_task() -> None:
    """Defaults (and the check in config/settings.py) keep a running task from being handed out twice."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT < options["visibility_timeout"]
    assert options["visibility_timeout"] <= 300, "a killed worker's message must not wait an hour"
    assert app.conf.broker_transport_options["visibility_timeout"] == options["visibility_timeout"]
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    for task in (aggregate_refusal, sweep_unaggregated, check_alerts, check_staleness, purge_access_log):
        assert task.acks_late and task.reject_on_worker_lost, task.name
