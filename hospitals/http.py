"""The request of a signed-in user, for views behind the login (``LoginRequiredMiddleware``)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from core.http import HtmxRequest
from hospitals.models import User


class AuthenticatedRequest(HtmxRequest):
    """A request that passed ``LoginRequiredMiddleware``: ``user`` is a signed-in ``User``
    (AUTH_USER_MODEL), never ``AnonymousUser``.

    For views not marked ``login_not_required`` (those see ``HttpRequest`` and check
    ``request.user.is_authenticated`` themselves) and for admin actions (staff only).
    """

    user: User


def request_user(request: HttpRequest) -> User:
    """The signed-in user where a hook keeps Django's ``HttpRequest`` signature but a login is
    certain (``ModelAdmin.save_model``: the admin site lets only active staff in)."""
    user = request.user
    if not isinstance(user, User):  # a lazy ``User`` passes: the lazy object proxies ``__class__``
        raise PermissionDenied
    return user
