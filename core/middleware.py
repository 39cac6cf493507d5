"""Dutch by default: the interface follows the user's explicit choice, not the browser's."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


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
