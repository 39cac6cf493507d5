"""Celery tasks that expire unanswered placement requests (docs/requests.md, "Deadlines").

Two ways, so a deadline survives a worker or beat restart: a task scheduled for the request's own
deadline when it is sent (``schedule_expiry``), and the beat sweep ``expire_due`` every
``PLACEMENT_SWEEP_SECONDS`` that expires whatever is past its deadline, whichever comes first.
Both go through ``placements.services``, under the row lock, so running twice does nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

from placements import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def expire_request(request_id: int) -> bool:
    """Expire one request if it is still open and past its deadline (idempotent)."""
    return services.placement_expire_due(only=[request_id]) == 1


@shared_task
def expire_due() -> int:
    """The beat sweep: every open request past its deadline."""
    return services.placement_expire_due()


def schedule_expiry(request_id: int, at: datetime) -> None:
    """Ask Celery to expire the request at its deadline. Never raises: the sweep is the backstop."""
    try:
        expire_request.apply_async(
            (request_id,),
            eta=at,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except Exception:  # broker down, or an eager run: the beat sweep expires it
        logger.warning("could not schedule the expiry of placement request %s; the sweep will", request_id,
                       exc_info=True)  # fmt: skip
