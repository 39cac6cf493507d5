"""The hospital-system API (/api/v1/): the NinjaAPI object, token auth, rate limits, problem details.

The routers (api/locations.py, api/units.py, api/statistics.py, api/search.py,
api/exports/routes.py) import what they share from here; api/v1.py adds them to the API. Every 4xx is
an RFC 9457 problem-details document (``application/problem+json``); see docs/api.md.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from api.services import api_token_touch
from capacity.models import ApiToken
from hospitals.lockout import api_locked, api_token_failed, lock_for
from hospitals.permissions import has_role

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = f"{settings.PUBLIC_BASE_URL}/problems/"  # identifiers of the problem types (docs/api.md)


class Problem(Schema):
    """RFC 9457 problem details; ``errors`` for invalid input, ``current`` for a version conflict."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = None
    current: Any = None


class ApiProblem(Exception):
    """Raise anywhere in an endpoint to answer with a problem-details document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "instance": request.path,
        **exc.extra,
    }
    response = JsonResponse(body, status=exc.status, content_type=PROBLEM_JSON)
    for name, value in exc.headers.items():
        response[name] = value
    return response


# If-Match: the version the client last saw, "12" (weak W/"12" and bare 12 accepted too).
ETAG = re.compile(r'^\s*(?:W/)?(?:"(\d{1,10})"|(\d{1,10}))\s*$')


def expected_version(if_match: str | None, body_version: int | None, *, bad_header: str) -> int:
    """The version a write is based on, from If-Match or the body's 'version' (both: they must agree;
    neither: 428, so a change made meanwhile is never overwritten unseen). ``bad_header`` says what
    If-Match should hold for this resource."""
    header_version = None
    if if_match is not None:
        match = ETAG.match(if_match)
        if match is None:
            raise ApiProblem(400, "bad-if-match", _("Bad If-Match header"), bad_header)
        header_version = int(match.group(1) or match.group(2))
    if header_version is not None and body_version is not None and header_version != body_version:
        raise ApiProblem(
            400, "bad-if-match", _("Bad If-Match header"), _("If-Match and 'version' name different versions.")
        )
    version = header_version if header_version is not None else body_version
    if version is None:
        raise ApiProblem(
            428,
            "version-required",
            _("Version required"),
            _(
                "Send the version you last saw as If-Match or as 'version', so that a change made "
                "meanwhile is never overwritten unseen."
            ),
        )
    return version


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "forbidden", _("Not allowed"), detail)


def not_found(detail: str) -> ApiProblem:
    return ApiProblem(404, "not-found", _("Not found"), detail)


def only_query(request: HttpRequest, *allowed: str) -> None:
    """Refuse unknown query parameters: a misspelt ``?regoin=west`` must not quietly return the whole country."""
    unknown = sorted(set(request.GET) - set(allowed))
    if unknown:
        raise ApiProblem(
            422,
            "invalid-input",
            _("Invalid input"),
            _("Unknown query parameter: %(names)s.") % {"names": ", ".join(unknown)},
            errors=[
                {"in": "query", "pointer": f"/{name}", "detail": _("Unknown query parameter.")} for name in unknown
            ],
        )


# --- authentication and rate limits ---------------------------------------------


def _rate_limit(token: ApiToken) -> None:
    """Fixed one-minute window per token, counted atomically in the shared cache."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = time.time()
    key = f"api-rate:{token.pk}:{int(now // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    if count > limit:
        retry = max(1, int(60 - now % 60) + 1)
        raise ApiProblem(
            429,
            "rate-limited",
            _("Too many requests"),
            ngettext(
                "This token may make %(limit)s requests per minute. Try again in %(seconds)s second.",
                "This token may make %(limit)s requests per minute. Try again in %(seconds)s seconds.",
                retry,
            )
            % {"limit": limit, "seconds": retry},
            headers={"Retry-After": str(retry)},
        )


def authenticate_token(raw: str) -> ApiToken | None:
    token = ApiToken.lookup(raw.strip())
    if token is None:
        return None
    _rate_limit(token)
    api_token_touch(token=token)
    return token


class TokenAuth(HttpBearer):
    """``Authorization: Bearer bcap_...``: an organisation's or a region's API token."""

    openapi_description = "An API token issued on the API tokens page (docs/api.md)."

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        # Unknown and revoked tokens count against the client address (django-axes, as failed
        # logins do); once locked, that address is refused until the cool-off passes.
        if api_locked(request):
            raise locked_out(request)
        found = authenticate_token(token)
        if found is None and api_token_failed(request):
            raise locked_out(request)
        return found


def locked_out(request: HttpRequest) -> ApiProblem:
    lock = lock_for(request, None)
    retry = max(1, int((lock.until - timezone.now()).total_seconds()) + 1)
    return ApiProblem(
        429,
        "locked-out",
        _("Too many failed authentications"),
        _(
            "This address sent too many unknown or revoked API tokens. It is locked for %(minutes)s min., "
            "until %(until)s; try again after that."
        )
        % {"minutes": lock.minutes, "until": timezone.localtime(lock.until).isoformat(timespec="seconds")},
        headers={"Retry-After": str(retry)},
    )


def request_token(request: HttpRequest) -> ApiToken:
    """The token of a call behind ``TokenAuth``: ninja keeps what ``authenticate`` returned in ``request.auth``."""
    token = getattr(request, "auth", None)
    if not isinstance(token, ApiToken):  # not reached: without a valid token ninja answers 401 first
        raise AuthenticationError
    return token


def bearer_from_header(value: str) -> str:
    scheme, _sep, raw = value.partition(" ")
    return raw if scheme.lower() == "bearer" else ""


# --- the API object ---------------------------------------------------------------


def _docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The docs page and schema: for signed-in users, or any request with a valid token."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raw = bearer_from_header(request.headers.get("Authorization", ""))
        if has_role(request.user) or (raw and ApiToken.lookup(raw) is not None):
            return view(request, *args, **kwargs)
        if request.path.endswith(".json"):
            return problem_response(request, unauthenticated())
        if request.user.is_authenticated:
            raise PermissionDenied  # signed in without a role: the login page would send them back here
        return redirect_to_login(request.get_full_path())

    return wrapped


def unauthenticated() -> ApiProblem:
    return ApiProblem(
        401,
        "unauthenticated",
        _("Authentication required"),
        _("Send a valid, unrevoked API token as 'Authorization: Bearer <token>'."),
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


class Api(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Problem-details responses are served as application/problem+json: say so in the schema."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if str(status).startswith("4") and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
        return schema


api = Api(
    title="Birth-care capacity API",
    version="1",
    description=(
        "Capacity of delivery suites, birth centres and neonatal units in the Dutch ROAZ regions. "
        "Authenticate with an API token (`Authorization: Bearer ...`). Errors are RFC 9457 problem "
        "details. See docs/api.md in the repository for a walk-through."
    ),
    auth=TokenAuth(),
    urls_namespace="api-v1",
    docs_decorator=_docs_access,
)


@api.exception_handler(ApiProblem)
def _on_problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return problem_response(request, exc)


@api.exception_handler(AuthenticationError)
def _on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(request, unauthenticated())


@api.exception_handler(NinjaValidationError)
def _on_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ninja prefixes the location with where it came from (body / query / path / header)
        where, field = (loc[0], loc[1:]) if loc else ("", [])
        if where == "body" and field[:1] == ["payload"]:
            field = field[1:]
        errors.append(
            {
                "in": where,
                "pointer": "/" + "/".join(field),
                "detail": str(error.get("msg", "")),
            }
        )
    return problem_response(
        request,
        ApiProblem(
            422, "invalid-input", _("Invalid input"), _("The request does not match the schema."), errors=errors
        ),
    )


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja raises HttpError(400) for a body that is not JSON, among others.
    slug = "bad-request" if exc.status_code == 400 else "error"
    return problem_response(request, ApiProblem(exc.status_code, slug, _("Bad request"), str(exc)))


@api.exception_handler(Http404)
def _on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(request, not_found(str(exc) or _("No such resource.")))


@api.exception_handler(PermissionDenied)
def _on_403(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem_response(request, forbidden(str(exc) or _("This token may not do that.")))
