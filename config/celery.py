"""Celery app. Embedded mode (no REDIS_URL) runs tasks in-process; see config/settings.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("birthcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
