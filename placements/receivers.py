"""Connects placement signals to their work: a sent request gets its expiry scheduled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from placements import signals, tasks


@receiver(signals.request_sent)
def schedule_expiry(sender: Any, request_id: int, deadline: datetime, **kwargs: Any) -> None:
    tasks.schedule_expiry(request_id, deadline)
