"""The alert beat task as production runs it: enqueued on Redis, executed by a real Celery worker."""

from __future__ import annotations

import threading

import pytest
from celery.signals import task_postrun
from django.core import mail

from refusals.models import Alert
from refusals.tasks import check_alerts
from tests.conftest import World
from tests.test_alerts import refuse
from tests.test_tasks_worker import redis_worker, wait_for  # noqa: F401 - redis_worker is a fixture

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_worker_raises_a_spike_alert_once(world: World, redis_worker: str) -> None:  # noqa: F811
    for minutes in (30, 20, 10):
        refuse(world, minutes)
    finished: dict[str, str] = {}

    def on_postrun(task_id: str, **_kwargs: object) -> None:
        finished[task_id] = threading.current_thread().name

    task_postrun.connect(on_postrun, weak=False)
    try:
        first = check_alerts.delay().id
        assert wait_for(lambda: first in finished), "the worker did not run the alert check within 20 s"
        # Two more beat ticks queued back to back.
        ids = {check_alerts.delay().id, check_alerts.delay().id}
        assert wait_for(lambda: ids <= set(finished)), "the worker did not run the repeated ticks within 20 s"
    finally:
        task_postrun.disconnect(on_postrun)
    assert threading.current_thread().name not in set(finished.values())  # the worker ran them, not eagerly
    alert = Alert.objects.get()
    assert (alert.kind, alert.location_id, alert.count) == ("location_spike", world.location.pk, 3)
    assert alert.emailed_at is not None
    assert [m.bcc for m in mail.outbox] == [[world.coordinator.email, world.national_admin.email]]
