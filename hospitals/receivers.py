"""Access-log entries for logins, failed logins, lockouts and logouts (docs/security.md).

Connected in ``HospitalsConfig.ready``. Django's auth signals and axes' ``user_locked_out`` fire
once per event, so each receiver writes exactly one entry; a password is never recorded.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from hospitals import audit
from hospitals.lockout import API_FAILURE_USERNAME
from hospitals.models import AccessLog, User

LOGIN = "login"
FAILED_API_CALL = "api token"


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit.record(action=AccessLog.Action.LOGIN, what=LOGIN, request=request, user=user)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    typed = str(credentials.get("username") or "")
    if typed == API_FAILURE_USERNAME:
        audit.record(action=AccessLog.Action.LOGIN_FAILED, what=FAILED_API_CALL, request=request)
        return
    audit.record(action=AccessLog.Action.LOGIN_FAILED, what=LOGIN, request=request, username=typed)


def on_locked_out(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """Axes also sends this for every attempt made while locked; only the failure that locked
    has a failure count on the request, and only that one is a lockout."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    api = username == API_FAILURE_USERNAME
    audit.record(
        action=AccessLog.Action.LOCKED_OUT,
        what=FAILED_API_CALL if api else LOGIN,
        request=request,
        username="" if api else str(username or ""),
        scope=audit.scope_of(failures=failures),
    )


def on_logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None and user.is_authenticated:
        audit.record(action=AccessLog.Action.LOGOUT, what=LOGIN, request=request, user=user)


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="hospitals.access_log.login")
    user_login_failed.connect(on_login_failed, dispatch_uid="hospitals.access_log.login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="hospitals.access_log.locked_out")
    user_logged_out.connect(on_logged_out, dispatch_uid="hospitals.access_log.logout")
