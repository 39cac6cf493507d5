"""Connects placement signals to their work: a sent request gets its expiry scheduled; every change is
pushed to the screens that show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from placements import live, signals, tasks


@receiver(signals.request_sent)
def schedule_expiry(sender: Any, request_id: int, deadline: datetime, **kwargs: Any) -> None:
    tasks.schedule_expiry(request_id, deadline)


@receiver(signals.request_changed)
def push_to_screens(sender: Any, **kwargs: Any) -> None:
    live.on_request_changed(sender, **kwargs)
