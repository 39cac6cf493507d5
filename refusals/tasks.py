"""Celery tasks that keep the refusal rollups and raise alerts (refusals/aggregation.py,
refusals/alerts.py, docs/refusals.md), and the one way a refusal is handed to them."""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from core.logs import OutageLog
from refusals import aggregation, alerts, live

logger = logging.getLogger(__name__)
# While the broker is down every registration fails to enqueue: one warning, then a count.
broker_outage = OutageLog(logger, what="Celery broker", calls="enqueues")


def enqueue(refusal_id: int) -> None:
    """Ask Celery to aggregate the refusal. Never raises: the refusal is already stored.

    Called from ``transaction.on_commit`` in the services, i.e. inside the request. If the
    broker is unreachable (or an eager run fails) the sweep counts the refusal later.
    """
    try:
        # Few, short retries: a request must not hang on a broker that is down.
        aggregate_refusal.apply_async(
            (refusal_id,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except OperationalError as exc:  # the broker is unreachable
        broker_outage.failed(exc, f"refusal {refusal_id}; the periodic sweep will count it and those after it")
    except Exception:  # any other failure (an eager run) must not reach the midwife either
        logger.warning(
            "could not enqueue aggregation of refusal %s; the periodic sweep will count it",
            refusal_id,
            exc_info=True,
        )
    else:
        broker_outage.succeeded()


@shared_task(name="refusals.tasks.aggregate_refusal", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def aggregate_refusal(refusal_id: int) -> str:
    """Count one refusal where it belongs now. Idempotent: safe twice, late or out of order."""
    return aggregation.aggregate(refusal_id)


@shared_task(name="refusals.tasks.sweep_unaggregated", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep_unaggregated() -> dict[str, int]:
    """Beat task: aggregate refusals whose task was lost (broker or worker down, a failure).

    After an outage it counts hundreds at once: open statistics pages get one nudge per region.
    """
    with live.one_push_per_region():
        return aggregation.sweep()


@shared_task(name="refusals.tasks.check_alerts", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def check_alerts() -> dict[str, int]:
    """Beat task: raise spike alerts (once per episode) and end those that are over. Idempotent."""
    return alerts.run()
