"""Periodic work on capacity: staleness, overdue stops, reminders."""

from __future__ import annotations

from celery import shared_task

from capacity import staleness


@shared_task(name="capacity.tasks.check_staleness", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def check_staleness() -> dict[str, int]:
    """Flag and push out-of-date units and overdue stops; remind staff shortly before. Idempotent."""
    return staleness.run()
