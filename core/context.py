"""One base for middleware that makes a per-request value visible below the view (a context variable).

Sync and async capable, so it never makes Django switch modes for the middleware around it. Used for
the request's log context (core/logs.py), the time it started (core/metrics.py) and the request an
access-log entry records from where (hospitals/audit.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

T = TypeVar("T")


class RequestContextMiddleware(Generic[T]):
    """Sets ``variable`` to ``value(request)`` while the rest of the stack handles the request."""

    sync_capable = True
    async_capable = True
    variable: ContextVar[T | None]

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def value(self, request: HttpRequest) -> T:
        raise NotImplementedError

    def respond(self, response: HttpResponseBase, value: T) -> None:
        """Called with the response, outside the context; nothing by default."""

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        value = self.value(request)
        token = self.variable.set(value)
        try:
            response: HttpResponseBase = self.get_response(request)
        finally:
            self.variable.reset(token)
        self.respond(response, value)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        value = self.value(request)
        token = self.variable.set(value)
        try:
            response: HttpResponseBase = await self.get_response(request)
        finally:
            self.variable.reset(token)
        self.respond(response, value)
        return response
