"""Embedded mode (no REDIS_URL): run the beat schedule in a thread of the web process.

Production runs exactly one `celery beat` instead (docs/operations.md). Tasks run
in-process there anyway (CELERY_TASK_ALWAYS_EAGER), so this only supplies the clock.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)
_started = False


def start_periodic_tasks() -> None:
    global _started
    if _started or settings.REDIS_URL or not settings.EMBEDDED_BEAT:
        return
    _started = True
    from capacity.tasks import check_staleness

    interval = float(settings.CELERY_BEAT_SCHEDULE["capacity-staleness"]["schedule"])  # type: ignore[arg-type]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                check_staleness.delay()
            except Exception:
                logger.exception("periodic staleness check failed")

    threading.Thread(target=loop, name="embedded-beat", daemon=True).start()
