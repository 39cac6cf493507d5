"""Cross-cutting request handling: Dutch by default, Permissions-Policy, the session idle timeout,
a 503 instead of a hang when the database is down."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from core.logs import OutageLog

logger = logging.getLogger(__name__)


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


# --- the database is down: answer at once, in the person's language ----------------------------

API_PREFIX = "/api/"
RETRY_AFTER = 5  # seconds: the pool retries a connect within ~2 s (docs/operations.md)
PROBLEM_JSON = "application/problem+json"
# Errors Django answers with an HTML page (unknown path, uncaught exception) that the API answers as problems.
API_HTML_ERRORS = frozenset({403, 404, 500})
# SQLSTATEs of "the server is not there": connection exceptions, and shutting down or starting up.
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
DATABASE_FAILURE = "core.database_failure"  # request.META key: the error Django turned into a 500 below us
database_outage = OutageLog(logger, what="PostgreSQL", calls="requests")


def database_unreachable(exc: BaseException | None) -> bool:
    """The database cannot be reached (no connection from the pool in time, connection lost, server
    shutting down), as opposed to a statement that failed on a working connection (a timeout, a
    deadlock: those stay 500s with their traceback)."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or str(sqlstate).startswith(UNREACHABLE_SQLSTATES)


class DatabaseUnavailableMiddleware:
    """A 503 page (or API problem) instead of a 500 when the database cannot be reached.

    How fast that comes is the pool's ``timeout`` (``DB_POOL_TIMEOUT``, config/settings.py). The
    database fails wherever the first query runs: in the view (``process_exception``) or, more often,
    in a middleware below this one reading the session, where Django has already turned it into a 500:
    ``remember_database_failure`` notes the error on the request and the 500 becomes the 503 here.
    One warning per outage (core/logs.py), not a traceback per request. The API keeps its
    problem+json for errors Django renders as HTML pages (an unknown path, a server error).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        failure = request.META.pop(DATABASE_FAILURE, None)
        if failure is not None and response.status_code == 500:
            return database_unavailable(request, failure)
        if response.status_code < 500 and connection.connection is not None:
            database_outage.succeeded()  # this request had a working connection
        if request.path_info.startswith(API_PREFIX) and response.status_code in API_HTML_ERRORS:
            content_type = response.get("Content-Type", "")
            if content_type.startswith("text/html"):
                return api_html_error(request, response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unreachable(exception):
            return database_unavailable(request, exception)
        return None


def remember_database_failure(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """``got_request_exception`` is sent while Django handles the exception: note an unreachable database."""
    exc = sys.exc_info()[1]
    if request is not None and database_unreachable(exc):
        request.META[DATABASE_FAILURE] = exc


got_request_exception.connect(remember_database_failure, dispatch_uid="core.middleware.remember_database_failure")


class QuietDatabaseOutage(logging.Filter):
    """Drop Django's line per 503 ("Service Unavailable: /board/", every page and health probe of
    an outage) and its "Internal Server Error" traceback for a request the database failed:
    ``database_outage`` says it once per outage, the health endpoint's body says what is down."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 503:
            return False
        return not (record.exc_info and database_unreachable(record.exc_info[1]))


logging.getLogger("django.request").addFilter(QuietDatabaseOutage())


def request_language(request: HttpRequest) -> str:
    """The language LocaleMiddleware would choose (it has not run yet): the API's English unless
    the client asks otherwise, else the language cookie, else Dutch (DutchByDefaultMiddleware)."""
    if request.path_info.startswith(API_PREFIX):
        if not request.headers.get("Accept-Language"):
            return "en"
        return translation.get_language_from_request(request)
    try:
        return translation.get_supported_language_variant(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""))
    except LookupError:
        return str(settings.LANGUAGE_CODE)


def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    database_outage.failed(exc)
    with translation.override(request_language(request)):
        if request.path_info.startswith(API_PREFIX):
            response = problem(
                request,
                503,
                "service-unavailable",
                _("Service unavailable"),
                _("The database cannot be reached. Try again in a few seconds."),
            )
        else:
            page = render_to_string("503.html", {"retry_path": request.get_full_path()})
            response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def api_html_error(request: HttpRequest, status: int) -> HttpResponse:
    with translation.override(request_language(request)):
        if status == 404:
            return problem(request, 404, "not-found", _("Not found"), _("No such resource."))
        if status == 403:
            return problem(request, 403, "forbidden", _("Not allowed"), _("This token may not do that."))
        return problem(
            request, 500, "server-error", _("Server error"), _("Something went wrong on our side. Try again later.")
        )


def problem(request: HttpRequest, status: int, slug: str, title: str, detail: str) -> HttpResponse:
    """RFC 9457 problem details, as api/base.py writes them (core cannot import the API)."""
    body = {
        "type": f"{settings.PUBLIC_BASE_URL}/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    return JsonResponse(body, status=status, content_type=PROBLEM_JSON)
