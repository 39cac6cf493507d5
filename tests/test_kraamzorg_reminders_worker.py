"""The reminder task as production runs it: on the beat schedule, enqueued on Redis, run by a real worker."""

from __future__ import annotations

import threading

import pytest
from celery.signals import task_postrun
from django.conf import settings
from django.core import mail

from config.celery import app
from kraamzorg.models import IntakeReminder
from kraamzorg.tasks import remind_stale_intake
from tests.conftest import Kraamzorg
from tests.test_tasks_worker import redis_worker, wait_for

__all__ = ["redis_worker"]  # the fixture, shared with the staleness worker test

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_the_beat_schedules_the_reminders() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["kraamzorg-reminders"]
    assert entry == {"task": "kraamzorg.tasks.remind_stale_intake", "schedule": 900}
    assert app.tasks[entry["task"]].name == remind_stale_intake.name  # registered with the project app


def test_a_worker_sends_the_reminder_once(kz: Kraamzorg, redis_worker: str) -> None:
    mail.outbox = []
    finished: list[str] = []
    threads: set[str] = set()

    def on_postrun(task_id: str, **_kwargs: object) -> None:
        finished.append(task_id)
        threads.add(threading.current_thread().name)

    task_postrun.connect(on_postrun, weak=False)
    try:
        ids = {remind_stale_intake.delay().id, remind_stale_intake.delay().id, remind_stale_intake.delay().id}
        assert wait_for(lambda: ids <= set(finished)), "the worker did not run the three ticks within 20 s"
    finally:
        task_postrun.disconnect(on_postrun)
    assert threading.current_thread().name not in threads  # run by the worker, not eagerly here
    [reminder] = IntakeReminder.objects.all()
    assert (reminder.organisation_id, len(reminder.weeks), reminder.recipients) == (kz.organisation.pk, 12, 1)
    assert [m.bcc for m in mail.outbox] == [["planner@example.org"]]
