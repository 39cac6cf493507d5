"""Group sends over the channel layer from anywhere: a request thread, a Celery worker, the embedded beat.

For the few-listener pushes (coordinators' pages, placement requests); the board's fan-out to
thousands of sockets has its own transport (capacity/live.py). Never raises: the data is saved,
and a page that missed a push gets a snapshot when it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

# Embedded mode (in-memory channel layer): the event loop of this process's sockets, set by the
# consumers. The layer's queues belong to that loop, so other threads (the request thread, the
# embedded beat thread) hand their sends over to it instead of running them in a loop of their own.
_loop: asyncio.AbstractEventLoop | None = None
_sending: set[asyncio.Task[None]] = set()


def remember_loop() -> None:
    global _loop
    _loop = asyncio.get_running_loop()


def _sent(task: asyncio.Task[None], group: str) -> None:
    _sending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("push to %s failed", group, exc_info=task.exception())


def group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if settings.REDIS_URL:
            try:
                running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not None:  # called on an event loop (a consumer, an async view): never block it
                task = running.create_task(layer.group_send(group, message))
                _sending.add(task)  # keep a reference until it is done
                task.add_done_callback(lambda done: _sent(done, group))
            else:
                async_to_sync(layer.group_send)(group, message)
        elif _loop is not None and _loop.is_running():
            try:
                current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                current = None
            if current is _loop:  # called on the loop itself: never block it
                _loop.create_task(layer.group_send(group, message))
            else:
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _loop).result(timeout=5)
        # else: no socket was ever opened in this process (or its loop is gone): nobody to tell
    except Exception:  # the change is saved; open pages catch up on reconnect
        logger.warning("push to %s failed", group, exc_info=True)
