"""Celery tasks that keep the refusal rollups (refusals/aggregation.py, docs/refusals.md)."""

from __future__ import annotations

from celery import shared_task

from refusals import aggregation


@shared_task(name="refusals.tasks.aggregate_refusal", acks_late=True, ignore_result=True)
def aggregate_refusal(refusal_id: int) -> str:
    """Count one refusal where it belongs now. Idempotent: safe twice, late or out of order."""
    return aggregation.aggregate(refusal_id)


@shared_task(name="refusals.tasks.sweep_unaggregated", acks_late=True, ignore_result=True)
def sweep_unaggregated() -> dict[str, int]:
    """Beat task: aggregate refusals whose task was lost (broker or worker down, a failure).

    After an outage it counts hundreds at once: open statistics pages get one nudge per region.
    """
    from refusals import live

    with live.one_push_per_region():
        return aggregation.sweep()


@shared_task(name="refusals.tasks.check_alerts", acks_late=True, ignore_result=True)
def check_alerts() -> dict[str, int]:
    """Beat task: raise spike alerts (once per episode) and end those that are over. Idempotent."""
    from refusals import alerts

    return alerts.run()
