"""Periodic work on the kraamzorg intake grid: reminders for stale weeks."""

from __future__ import annotations

from celery import shared_task

from kraamzorg import reminders


@shared_task(name="kraamzorg.tasks.remind_stale_intake", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def remind_stale_intake() -> dict[str, int]:
    """E-mail the planners of each organisation with a stale week, at most once per interval. Idempotent."""
    return reminders.run()
