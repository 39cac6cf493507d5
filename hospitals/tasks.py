"""Periodic work on the hospitals app's records: the access log's retention."""

from __future__ import annotations

from celery import shared_task

from hospitals import audit


@shared_task(name="hospitals.tasks.purge_access_log", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def purge_access_log() -> int:
    """Beat task: delete access-log entries past ACCESS_LOG_RETENTION_DAYS. Idempotent."""
    return audit.purge_expired()
