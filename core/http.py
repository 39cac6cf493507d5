"""The request as views see it: Django's ``HttpRequest`` plus what this project's middleware adds."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """Any request, signed in or not: ``HtmxMiddleware`` (config/settings.py) sets ``htmx`` on every one.

    ``LANGUAGE_CODE`` (LocaleMiddleware) is declared on ``HttpRequest`` itself by django-stubs.
    """

    htmx: HtmxDetails


def local_path(request: HttpRequest, raw: str) -> str | None:
    """``raw`` if it is a path on this site (``/search/?where=…``), else None.

    Anything else (another host, ``//host``, ``javascript:``, a backslash or control-character
    trick) would make a ``next`` parameter an open redirect.
    """
    local = raw.startswith("/") and not raw.startswith("//")
    safe = url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return raw if local and safe else None
