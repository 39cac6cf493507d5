"""Cross-cutting request handling: Dutch by default, Permissions-Policy, the session idle timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _


class DutchByDefaultMiddleware:
    """Drop Accept-Language so LocaleMiddleware falls back to LANGUAGE_CODE (nl).

    Hospital PCs and phones often run an English browser while their users work in
    Dutch; English is one tap away through the language switch (a cookie), which
    LocaleMiddleware still honours.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            # Machines, not people, read the API: English unless the client asks for Dutch.
            request.META.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
            return self.get_response(request)
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


# Browser features no page of ours uses: a script that slips in cannot switch them on either.
# Only names Chromium knows (an unknown one is a console error on every page).
PERMISSIONS_POLICY = ", ".join(
    [
        "accelerometer=()",
        "autoplay=()",
        "camera=()",
        "display-capture=()",
        "encrypted-media=()",
        "fullscreen=(self)",
        "geolocation=()",
        "gyroscope=()",
        "hid=()",
        "magnetometer=()",
        "microphone=()",
        "midi=()",
        "payment=()",
        "serial=()",
        "usb=()",
        "xr-spatial-tracking=()",
    ]
)


class PermissionsPolicyMiddleware:
    """``Permissions-Policy`` on every response (Django's SecurityMiddleware sets the other headers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


# Requests the page makes by itself, not the person: the board's polling fallback and the
# refreshes a live push triggers on the search results and the statistics (by htmx target id).
BACKGROUND_TARGETS = frozenset({"board-list", "search-results", "stats-body"})
LAST_ACTIVITY = "last_activity"  # session key: epoch seconds of the user's last request
TOUCH_EVERY = 60  # seconds: the session is written at most this often for activity alone


class IdleTimeoutMiddleware:
    """Log a signed-in user out after ``SESSION_IDLE_TIMEOUT`` without a request of theirs.

    Every request of the person counts as activity; background refreshes do not (they would keep
    an unattended screen signed in forever), nor do live websocket pushes (they are no requests).
    The last activity is written to the session at most once a minute. An idle session ends at
    its next request: logged out, with a message, and sent to the login page (htmx requests via
    ``HX-Redirect``, so the login form does not land inside a fragment).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = settings.SESSION_IDLE_TIMEOUT
        if timeout and request.user.is_authenticated:
            last = request.session.get(LAST_ACTIVITY)
            if isinstance(last, int) and time.time() - last > timeout.total_seconds():
                return self.log_out(request, timeout)
        response = self.get_response(request)
        if timeout and request.user.is_authenticated and not is_background(request):
            last = request.session.get(LAST_ACTIVITY)
            now = int(time.time())
            if not isinstance(last, int) or now - last >= TOUCH_EVERY:
                request.session[LAST_ACTIVITY] = now
        return response

    def log_out(self, request: HttpRequest, timeout: timedelta) -> HttpResponse:
        minutes = int(timeout.total_seconds() // 60)
        logout(request)
        messages.info(
            request,
            _("You were logged out after %(minutes)s minutes without activity.") % {"minutes": minutes},
        )
        if request.headers.get("HX-Request") == "true":
            # Back to the page the person has open, once they have logged in again.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            next_url = current.path + (f"?{current.query}" if current.query else "")
            response = HttpResponse(status=204)
            response["HX-Redirect"] = redirect_to_login(next_url or "/").url
            return response
        return self.get_response(request)


def is_background(request: HttpRequest) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target", "") in BACKGROUND_TARGETS
    )
