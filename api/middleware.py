"""Request bodies the API accepts: JSON only (415 otherwise), and small (413 problem+json) — docs/api.md.

A middleware, so the rule holds for every API write, before any view parses anything, and an
oversized body gets the API's problem+json instead of Django's HTML 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from api.base import ApiProblem, problem_response

API_PREFIX = "/api/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.-]+\+)?json$")


def body_problem(request: HttpRequest) -> ApiProblem | None:
    """Why this API request's body is refused, or None."""
    limit: int = settings.API_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_big = ApiProblem(
        413,
        "body-too-large",
        _("Request body too large"),
        _("The request body may be at most %(limit)s bytes.") % {"limit": limit},
    )
    if declared > limit:
        return too_big
    try:
        body = request.body  # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE as well
    except RequestDataTooBig:
        return too_big
    if len(body) > limit:
        return too_big
    if not body:
        return None
    media_type = request.content_type.strip().lower() if request.content_type else ""
    if not JSON_MEDIA_TYPE.match(media_type):
        return ApiProblem(
            415,
            "unsupported-media-type",
            _("Unsupported media type"),
            _("Send the body as JSON with 'Content-Type: application/json' (this was %(type)s).")
            % {"type": media_type or _("no content type")},
            headers={"Accept-Post": "application/json", "Accept-Patch": "application/json"},
        )
    return None


class ApiBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in BODY_METHODS and request.path.startswith(API_PREFIX):
            problem = body_problem(request)
            if problem is not None:
                return problem_response(request, problem)
        return self.get_response(request)
