"""Embedded mode (no REDIS_URL): run the beat schedule in a thread of the web process.

Production runs exactly one `celery beat` instead (docs/operations.md). Tasks run
in-process there anyway (CELERY_TASK_ALWAYS_EAGER), so this only supplies the clock.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)
_started = False


def start_periodic_tasks() -> None:
    global _started
    if _started or settings.REDIS_URL or not settings.EMBEDDED_BEAT:
        return
    _started = True
    # The project's Celery app (config/celery.py), loaded with the settings: no import of config.
    app = current_app

    # A worker imports every app's tasks module at start; this process must too, or the
    # lookups by name below fail with NotRegistered.
    app.loader.import_default_modules()
    # Every entry of the beat schedule, each on its own interval; tasks run in-process.
    entries = [(str(entry["task"]), float(entry["schedule"])) for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    stop = threading.Event()

    def loop() -> None:
        due = {name: time.monotonic() + interval for name, interval in entries}
        while not stop.wait(1.0):
            now = time.monotonic()
            for name, interval in entries:
                if now < due[name]:
                    continue
                due[name] = now + interval
                try:
                    app.tasks[name].delay()
                except Exception:
                    logger.exception("periodic task %s failed", name)

    threading.Thread(target=loop, name="embedded-beat", daemon=True).start()
