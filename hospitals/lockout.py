"""Login lockout with django-axes (docs/security.md, "Lockout"): what axes is configured with.

Axes counts failed logins in the database (``AccessAttempt``) and refuses an account, or a
client address, once it has failed ``AXES_FAILURE_LIMIT`` times within ``AXES_COOLOFF_TIME``.
Settings point here for the lockout parameters and the page a locked person sees; the API
(api/base.py) reports token failures through the same signal and asks ``api_locked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.http import local_path

# The "username" axes stores for a failed API token. Django usernames cannot contain spaces or
# angle brackets, so no account's lock can ever count these.
API_FAILURE_USERNAME = "<api token>"
API_CREDENTIALS = {"username": API_FAILURE_USERNAME}


def lockout_parameters(request_or_attempt: Any, credentials: dict[str, Any] | None = None) -> list[str]:
    """Logins lock per account and, separately, per client address; API token failures per address
    only (every failed token shares one "username", which must not lock anybody else out)."""
    if credentials is not None and credentials.get("username") == API_FAILURE_USERNAME:
        return ["ip_address"]
    return ["username", "ip_address"]


@dataclass(frozen=True)
class Lock:
    minutes: int  # the configured cool-off
    until: datetime  # when the lock ends at the latest


def lock_for(request: HttpRequest, username: str | None) -> Lock:
    """How long this account or address stays locked: the cool-off from its latest counted failure."""
    cool_off = get_cool_off(request) or timedelta(0)
    address = get_client_ip_address(request)
    matching = Q(ip_address=address) if address else Q(pk__in=[])
    if username:
        matching |= Q(username=username)
    latest = (
        AccessAttempt.objects.filter(matching, attempt_time__gte=timezone.now() - cool_off)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return Lock(minutes=int(cool_off.total_seconds() // 60), until=(latest or timezone.now()) + cool_off)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the login page again, with the lockout message, status 429.

    Axes' async middleware passes the credentials in the wrong position, so they are read from
    the request, where axes keeps them as well.
    """
    stored = getattr(request, "axes_credentials", None)
    username = str((stored or {}).get("username") or request.POST.get("username", ""))
    context: dict[str, Any] = {"lockout": lock_for(request, username)}
    if request.path == reverse("admin:login"):
        context.update(
            admin.site.each_context(request),
            title=_("Log in"),
            subtitle=None,
            app_path=request.get_full_path(),
            username="",
            form=AdminAuthenticationForm(request, initial={"username": username}),
        )
        context[REDIRECT_FIELD_NAME] = local_path(request, request.POST.get(REDIRECT_FIELD_NAME, "")) or reverse(
            "admin:index"
        )
        return render(request, "admin/login.html", context, status=429)
    context.update(
        form=AuthenticationForm(request, initial={"username": username}),
        next=local_path(request, request.POST.get(REDIRECT_FIELD_NAME, "")) or "",
    )
    return render(request, "registration/login.html", context, status=429)


# --- API tokens -------------------------------------------------------------------------------


def api_locked(request: HttpRequest) -> bool:
    """Has this client address failed API token authentication (or logins) too often?"""
    return bool(AxesProxyHandler.is_locked(request, API_CREDENTIALS))


def api_token_failed(request: HttpRequest) -> bool:
    """Count an unknown or revoked token against the client address; True once that locks it.

    Axes marks the request so that its middleware would answer with the login page: the API
    answers with its own problem document instead (api/base.py), so the mark is taken off.
    """
    user_login_failed.send(sender=__name__, credentials=API_CREDENTIALS, request=request)
    locked = bool(getattr(request, "axes_locked_out", False))
    cast(Any, request).axes_locked_out = False
    return locked


# --- who is locked --------------------------------------------------------------------------


def locked_usernames(usernames: list[str] | None, request: HttpRequest | None = None) -> set[str]:
    """Which of these accounts (None: any) are locked now by their own failures. An address lock
    is not an account's: it ends by itself."""
    cool_off = get_cool_off(request) or timedelta(0)
    limit = get_failure_limit(request, None)
    attempts = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off).exclude(
        username=API_FAILURE_USERNAME
    )
    if usernames is not None:
        attempts = attempts.filter(username__in=usernames)
    rows = attempts.order_by().values("username").annotate(failures=Sum("failures_since_start"))
    return {row["username"] for row in rows if row["failures"] >= limit}
