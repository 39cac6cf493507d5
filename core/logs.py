"""Logging helpers: the request a log line belongs to, and one warning per outage.

``RequestIdMiddleware`` gives each request an id (the proxy's ``X-Request-ID`` when it sent a
sane one) and ``RequestContextFilter`` adds it and the path to every record logged while the
request runs, so the JSON log lines of one request can be found together (config/settings.py,
``LOGGING``).

``OutageLog`` keeps a dependency's outage to two lines however many calls fail: a warning
when it starts (the error, no traceback) and one when it ends, with how long it lasted and
how many calls failed meanwhile.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponseBase

from core.context import RequestContextMiddleware

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    path: str


_outage_logs: list[OutageLog] = []
_current: ContextVar[RequestContext | None] = ContextVar("log_request_context", default=None)


def request_id_for(request: HttpRequest) -> str:
    """The proxy's id when it is short and plain (it lands in our logs), else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware(RequestContextMiddleware[RequestContext]):
    """Tag the request's log records with its id and path; echo the id in the response."""

    variable = _current

    def value(self, request: HttpRequest) -> RequestContext:
        return RequestContext(request_id_for(request), request.path)

    def respond(self, response: HttpResponseBase, value: RequestContext) -> None:
        response[REQUEST_ID_HEADER] = value.request_id


class RequestContextFilter(logging.Filter):
    """Add ``request_id`` and ``path`` to records logged inside a request (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is not None:
            record.request_id = context.request_id
            record.path = context.path
        return True


def reset_outage_logs() -> None:
    for outage in _outage_logs:
        outage.reset()


class OutageLog:
    """Two log lines per outage of a dependency, however many calls fail meanwhile. Thread-safe.

    ``failed(exc)`` on every failed call: the first of an outage logs a warning with the error
    (no traceback: the cause is outside this process); later ones are only counted.
    ``succeeded()`` on every good call: the first after an outage logs how long it lasted and how
    many calls failed.
    """

    def __init__(self, logger: logging.Logger, *, what: str, calls: str, clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.what = what  # "Redis (live push)"
        self.calls = calls  # "publishes"
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0
        _outage_logs.append(self)

    def reset(self) -> None:
        """Forget an outage without logging its end (tests: state must not leak between them)."""
        with self._lock:
            self._since, self._failures = None, 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException, detail: str = "") -> None:
        with self._lock:
            self._failures += 1
            if self._since is not None:
                return
            self._since = self._clock()
        suffix = f" ({detail})" if detail else ""
        self.logger.warning("%s unreachable: %s%s; logging nothing more until it is back", self.what, exc, suffix)

    def succeeded(self) -> None:
        if self._since is None:  # the common case: no lock, nothing to say
            return
        with self._lock:
            if self._since is None:
                return
            lasted, failures = self._clock() - self._since, self._failures
            self._since, self._failures = None, 0
        self.logger.warning("%s back after %.0f s, %d %s failed", self.what, lasted, failures, self.calls)
