"""The access log (NEN 7513 style): one call per action worth recording (docs/security.md, "Access log").

``record()`` is the only writer of ``AccessLog``. Call it where the action happens (a view that
shows refusal statistics, a service that revokes a token, a login signal) with what was touched
and in what scope; who, role, organisation, when and from where are filled in here.
``purge_expired()`` (the retention task) is the only delete.
"""

from __future__ import annotations

import contextvars
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.context import RequestContextMiddleware
from core.time import ZONE
from hospitals.models import AccessLog, User

# The request being served, so that a service called from a view (which takes no request)
# still records from where: set by AccessLogContextMiddleware, empty outside a request.
_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "access_log_request", default=None
)

PURGE_BATCH = 1000


class AccessLogContextMiddleware(RequestContextMiddleware[HttpRequest]):
    """Remembers the request for ``record()`` calls made below the view (services, admin)."""

    variable = _current_request

    def value(self, request: HttpRequest) -> HttpRequest:
        return request


def client_address(request: HttpRequest | None) -> str | None:
    """The peer address as the ASGI server saw it (the proxy's ``--forwarded-allow-ips`` decides)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def scope_of(**parts: object) -> str:
    """``region=midden period=2026-Q3 format=csv``: the non-empty parts, in the order given."""
    return " ".join(f"{key}={value}" for key, value in parts.items() if value not in (None, ""))


def record(
    *,
    action: str,
    what: str,
    request: HttpRequest | None = None,
    user: User | None = None,
    username: str = "",
    object_id: object = "",
    scope: str = "",
) -> AccessLog:
    """Append one entry. ``user`` defaults to the request's user; ``username`` for a login that failed.

    Without ``request`` the address and path come from the request being served, if any
    (a service called by a view); the user is never taken from there: pass ``user``.
    """
    if user is None and request is not None and getattr(request, "user", None) is not None:
        candidate = request.user
        user = candidate if isinstance(candidate, User) and candidate.is_authenticated else None
    where = request if request is not None else _current_request.get()
    organisation = user.organisation if user is not None and user.organisation_id else None
    return AccessLog.objects.create(
        user=user,
        username=(user.get_username() if user is not None else username)[:150],
        role=user.role if user is not None else "",
        organisation=organisation.name if organisation is not None else "",
        action=action,
        what=what[:60],
        object_id=str(object_id)[:64],
        scope=scope[:300],
        ip=client_address(where),
        path=where.get_full_path()[:300] if where is not None else "",
    )


def entries(
    *,
    username: str = "",
    action: str = "",
    what: str = "",
    organisation: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AccessLog]:
    """The log filtered as on /accounts/access-log/, newest first; ``until`` includes that whole day."""
    rows = AccessLog.objects.order_by("-at", "-id")
    if username:
        rows = rows.filter(username__icontains=username)
    if action:
        rows = rows.filter(action=action)
    if what:
        rows = rows.filter(what__icontains=what)
    if organisation:
        rows = rows.filter(organisation__icontains=organisation)
    if since is not None:
        rows = rows.filter(at__gte=datetime.combine(since, time(), ZONE))
    if until is not None:
        rows = rows.filter(at__lt=datetime.combine(until + timedelta(days=1), time(), ZONE))
    return rows


def purge_expired(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete entries older than ACCESS_LOG_RETENTION_DAYS (0: keep all), in batches; returns how many.

    The one delete path: each batch is its own short transaction that tells the PostgreSQL
    trigger (migration 0007) this delete is the purge.
    """
    days = settings.ACCESS_LOG_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        # durable: a transaction of its own, so the purge setting ends with this batch.
        with transaction.atomic(durable=True):
            ids = list(
                AccessLog.objects.filter(at__lt=cutoff).order_by("at", "id").values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return deleted
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL app.access_log_purge = 'on'")
            deleted += AccessLog.objects.filter(pk__in=ids).purge()
