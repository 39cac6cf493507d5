"""Garbage-collector settings for the web processes (see docs/performance.md)."""

from __future__ import annotations

import gc

from django.conf import settings


def configure_gc() -> None:
    """Freeze everything loaded at start-up and raise the collection thresholds.

    A full collection traverses every tracked object; with thousands of open board
    sockets that is a pause of hundreds of milliseconds in which no frame goes out.
    Objects from start-up (Django, templates, URL patterns) live forever: frozen,
    they are never traversed again. The higher third threshold makes full
    collections about a hundred times rarer without switching them off.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.GC_THRESHOLDS)
