"""Prometheus instruments of this process (docs/operations.md).

The counters and histograms live here, low in the layers, so that the push path
(capacity/live.py, capacity/consumers.py) records with one call each. What is read at
scrape time (open sockets, queue depth, pending refusals, stale units) and the protected
endpoint are in config/metrics.py, the one place that may read every app.

Every process keeps its own values (no multiprocess mode): Prometheus scrapes each web
process on its own port.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping

from django.http import HttpRequest
from prometheus_client import Counter, Histogram

from core.context import RequestContextMiddleware

PREFIX = "birthcare"

PUSH_PUBLISHED = Histogram(
    f"{PREFIX}_push_request_to_published_seconds",
    "From the start of the HTTP request that changed capacity to its row being published to every process.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PUSH_SENT = Histogram(
    f"{PREFIX}_push_published_to_sent_seconds",
    "From a row being published to its frame being handed to a board socket of this process.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FRAMES_DROPPED = Counter(
    f"{PREFIX}_push_frames_dropped",
    "Pushed frames never sent: queued for a socket closed for slowness, or a socket that failed.",
    ["reason"],
)
for _reason in ("slow", "error"):
    FRAMES_DROPPED.labels(reason=_reason)  # exported at 0 from the start: rate() needs a first sample
SOCKETS_CLOSED_SLOW = Counter(
    f"{PREFIX}_push_sockets_closed_slow",
    "Board sockets closed with 1013 because they fell behind (the client reconnects to a snapshot).",
)
SNAPSHOT_RENDERS = Counter(f"{PREFIX}_snapshot_renders", "Full board snapshots rendered from the database.")
SNAPSHOT_CACHE_HITS = Counter(f"{PREFIX}_snapshot_cache_hits", "Board snapshots served from this process's cache.")


# --- request → published ---------------------------------------------------------------------

# When the request being served started (time.perf_counter()); None outside a request (a
# Celery task, the staleness beat), whose publishes are not observed.
_request_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("metrics_request_started", default=None)


class RequestStartMiddleware(RequestContextMiddleware[float]):
    """Remembers when the request started, for ``observe_published`` in the write path.

    First in MIDDLEWARE so the figure covers the whole server-side path.
    """

    variable = _request_started

    def value(self, request: HttpRequest) -> float:
        return time.perf_counter()


def publish_time() -> float:
    """The wall-clock stamp a pushed event carries (seconds since the epoch: it crosses processes)."""
    return time.time()


def observe_published() -> None:
    """A row was just published: record how long since its request started (if in a request)."""
    started = _request_started.get()
    if started is not None:
        PUSH_PUBLISHED.observe(time.perf_counter() - started)


# --- published → sent ----------------------------------------------------------------------


class Frame(str):
    """A pushed frame that remembers when it was published (a ``str`` everywhere else)."""

    published_at: float | None = None


def stamp(frames: Mapping[str, str], published_at: object) -> dict[str, str]:
    """The event's frames, each carrying the event's publish time (absent: returned as they are)."""
    if not isinstance(published_at, int | float):
        return dict(frames)
    stamped: dict[str, str] = {}
    for key, text in frames.items():
        frame = Frame(text)
        frame.published_at = float(published_at)
        stamped[key] = frame
    return stamped


def observe_sent(frame: str) -> None:
    """A frame was handed to a socket: record how long since it was published (snapshots carry no stamp)."""
    published_at = getattr(frame, "published_at", None)
    if published_at is not None:
        PUSH_SENT.observe(max(0.0, time.time() - published_at))


def closed_for_slowness(dropped_frames: int) -> None:
    """A socket was closed with 1013 for falling behind; ``dropped_frames`` were waiting for it."""
    SOCKETS_CLOSED_SLOW.inc()
    if dropped_frames:
        FRAMES_DROPPED.labels(reason="slow").inc(dropped_frames)


def frame_failed() -> None:
    """A push to one socket raised; that socket is dropped with the frame."""
    FRAMES_DROPPED.labels(reason="error").inc()
