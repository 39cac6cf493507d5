"""Celery tasks of the kraamzorg app (docs/kraamzorg.md): the ones that keep the shortage rollup
(kraamzorg/aggregation.py) and the one way a shortage is handed to them; reminders for stale weeks."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from kombu.exceptions import OperationalError

from core.logs import OutageLog
from kraamzorg import aggregation, reminders

logger = logging.getLogger(__name__)
# While the broker is down every registration fails to enqueue: one warning, then a count.
broker_outage = OutageLog(logger, what="Celery broker", calls="shortage enqueues")


def enqueue(shortage_id: int) -> None:
    """Ask Celery to aggregate the shortage. Never raises: the shortage is already stored.

    Runs after commit, inside the midwife's or planner's request. If the broker is unreachable
    (or an eager run fails) the sweep counts the shortage later.
    """
    try:
        # Few, short retries: a request must not hang on a broker that is down.
        aggregate_shortage.apply_async(
            (shortage_id,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except OperationalError as exc:  # the broker is unreachable
        broker_outage.failed(exc, f"shortage {shortage_id}; the periodic sweep will count it and those after it")
    except Exception:  # any other failure (an eager run) must not reach the user either
        logger.warning(
            "could not enqueue aggregation of shortage %s; the periodic sweep will count it",
            shortage_id,
            exc_info=True,
        )
    else:
        broker_outage.succeeded()


def on_shortage_changed(sender: object, shortage_id: int, **kwargs: Any) -> None:
    """``kraamzorg.signals.shortage_changed`` (sent after commit): aggregate it."""
    enqueue(shortage_id)


@shared_task(name="kraamzorg.tasks.aggregate_shortage", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def aggregate_shortage(shortage_id: int) -> str:
    """Count one shortage where it belongs now. Idempotent: safe twice, late or out of order."""
    return aggregation.aggregate(shortage_id)


@shared_task(name="kraamzorg.tasks.sweep_shortages", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep_shortages() -> dict[str, int]:
    """Beat task: aggregate shortages whose task was lost (broker or worker down, a failure)."""
    return aggregation.sweep()


@shared_task(name="kraamzorg.tasks.remind_stale_intake", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def remind_stale_intake() -> dict[str, int]:
    """E-mail the planners of each organisation with a stale week, at most once per interval. Idempotent."""
    return reminders.run()
