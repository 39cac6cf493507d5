"""The request as views see it: Django's ``HttpRequest`` plus what this project's middleware adds."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """Any request, signed in or not: ``HtmxMiddleware`` (config/settings.py) sets ``htmx`` on every one.

    ``LANGUAGE_CODE`` (LocaleMiddleware) is declared on ``HttpRequest`` itself by django-stubs.
    """

    htmx: HtmxDetails
