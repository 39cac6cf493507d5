"""The second factor at login (docs/security.md, "Second factor"): who must use one, whether a
session has, the remembered-device cookie, and the writes of enrolment and verification.

Built on django-otp: a confirmed ``TOTPDevice`` (an authenticator app) is a user's second factor,
a ``StaticDevice`` holds their single-use recovery codes, and ``OTPMiddleware`` keeps the device
that verified the session under ``django_otp.DEVICE_ID_SESSION_KEY``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import segno
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from hospitals import audit
from hospitals.models import AccessLog, Organisation, User

RECOVERY_CODE_COUNT = 10
REMEMBER_COOKIE = "mfa_remember"
REMEMBER_SALT = "hospitals.mfa.remember"
# The websocket close code for a session that still owes its second factor.
CLOSE_UNVERIFIED = 4401
# Scope key: the second-factor verdict read with the socket's session (hospitals/websocket_auth.py).
SECOND_FACTOR_VERIFIED = "second_factor_verified"
# Views that an unverified session may still open: logging in and out, the language switch, the
# health probe, wall screens (their link is the credential) and the second-factor pages. Every other
# view that reads the session is gated, also those marked login_not_required that check the session
# themselves (the search's JSON, the API docs); the token API ignores the session.
EXEMPT_VIEWS = frozenset(
    {
        "login",
        "logout",
        "set_language",
        "health",
        "capacity:screen",
        "hospitals:mfa_setup",
        "hospitals:mfa_verify",
    }
)
SESSION_API_VIEWS = frozenset({"api-v1:openapi-json", "api-v1:openapi-view"})


# --- who ---------------------------------------------------------------------------------------


def is_required(user: Any) -> bool:
    """Must this user use a second factor (MFA_ENFORCED, their role, their organisation's policy)?"""
    if not settings.MFA_ENFORCED or not getattr(user, "is_authenticated", False):
        return False
    if _role_requires(user):
        return True
    if user.organisation_id is None:
        return False
    return Organisation.objects.filter(pk=user.organisation_id, mfa_policy=Organisation.MfaPolicy.REQUIRED).exists()


def _role_requires(user: Any) -> bool:
    role = user.role or (User.Role.NATIONAL_ADMIN if user.is_superuser else "")
    return role in settings.MFA_REQUIRED_ROLES


def app_device(user: Any) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they set one up."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").first()


def needs_second_factor(user: Any) -> bool:
    """Asked for a code at login: required, or set up voluntarily. Never while MFA_ENFORCED is off."""
    if not settings.MFA_ENFORCED or not getattr(user, "is_authenticated", False):
        return False
    return is_required(user) or TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def session_is_verified(user: Any, session: Mapping[str, Any]) -> bool:
    """True when this session may act as ``user``: no second factor is needed, or one of the user's
    confirmed devices verified the session. For the websockets (scope["user"], scope["session"])."""
    return sessions_verified([(user, session)])[0]


def sessions_verified(pairs: Sequence[tuple[Any, Mapping[str, Any]]]) -> list[bool]:
    """``session_is_verified`` for many (user, session) pairs in three queries at most, whatever
    their number (the websockets of a reconnect storm, hospitals/websocket_auth.py)."""
    if not settings.MFA_ENFORCED:
        return [True] * len(pairs)
    users = [user for user, _session in pairs if getattr(user, "is_authenticated", False)]
    user_ids = {user.pk for user in users}
    organisation_ids = {user.organisation_id for user in users if user.organisation_id is not None}
    strict = set(
        Organisation.objects.filter(pk__in=organisation_ids, mfa_policy=Organisation.MfaPolicy.REQUIRED).values_list(
            "pk", flat=True
        )
    )
    apps: dict[int, set[int]] = {}  # user id -> their confirmed authenticator apps
    for user_id, device_id in TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True).values_list(
        "user_id", "pk"
    ):
        apps.setdefault(user_id, set()).add(device_id)
    app_label = TOTPDevice.model_label() + "/"
    verdicts = []
    for user, session in pairs:
        if not getattr(user, "is_authenticated", False):
            verdicts.append(True)
            continue
        needed = _role_requires(user) or user.organisation_id in strict or user.pk in apps
        persistent_id = session.get(DEVICE_ID_SESSION_KEY)
        if not needed:
            verdicts.append(True)
        elif not persistent_id:
            verdicts.append(False)
        elif persistent_id.startswith(app_label) and persistent_id[len(app_label) :].isdigit():
            verdicts.append(int(persistent_id[len(app_label) :]) in apps.get(user.pk, set()))
        else:  # another kind of device (a recovery code's): read it
            device = Device.from_persistent_id(persistent_id)
            verdicts.append(device is not None and device.user_id == user.pk and bool(device.confirmed))
    return verdicts


def can_reset(by: Any, member: User) -> bool:
    """Organisation administrators reset their own organisation's members; national administrators anyone.
    Nobody resets their own second factor (that takes a second person)."""
    if not getattr(by, "is_authenticated", False) or not by.is_active or by.pk == member.pk:
        return False
    if by.role == User.Role.NATIONAL_ADMIN or by.is_superuser:
        return True
    return bool(
        by.role == User.Role.ORG_ADMIN
        and by.organisation_id is not None
        and by.organisation_id == member.organisation_id
    )


# --- the remembered device ---------------------------------------------------------------------


def _fingerprint(user: Any, device: TOTPDevice) -> str:
    # Bound to the user and this very device and secret: a reset deletes the device, and a new one
    # never matches, even if the database reuses its id.
    return f"{user.pk}:" + salted_hmac(REMEMBER_SALT, f"{device.persistent_id}:{device.key}").hexdigest()


def remember(response: HttpResponse, user: Any, device: TOTPDevice) -> None:
    """Let this browser skip the code for MFA_REMEMBER_HOURS (signed, httponly cookie)."""
    hours = settings.MFA_REMEMBER_HOURS
    if hours <= 0:
        return
    response.set_signed_cookie(
        REMEMBER_COOKIE,
        _fingerprint(user, device),
        salt=REMEMBER_SALT,
        max_age=hours * 3600,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def is_remembered(request: HttpRequest, user: Any, device: TOTPDevice) -> bool:
    hours = settings.MFA_REMEMBER_HOURS
    if hours <= 0:
        return False
    value = request.get_signed_cookie(REMEMBER_COOKIE, default=None, salt=REMEMBER_SALT, max_age=timedelta(hours=hours))
    return value is not None and constant_time_compare(value, _fingerprint(user, device))


# --- the gate ----------------------------------------------------------------------------------


def _after_verification(request: HttpRequest) -> str:
    """Where to go once verified: the page asked for (htmx: the page it came from); POSTs go home."""
    if request.headers.get("HX-Request"):
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        return current.path + (f"?{current.query}" if current.query else "") if current.path else ""
    return request.get_full_path() if request.method == "GET" else ""


class SecondFactorMiddleware:
    """Until the session is verified, every page of a user who needs a second factor leads to the
    set-up page (no device yet) or the verify page. ``EXEMPT_VIEWS`` (login, language switch,
    /health/, wall screens, the second-factor pages) and the token API stay open.
    Goes after ``OTPMiddleware`` and ``LoginRequiredMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not settings.MFA_ENFORCED:
            return None
        match = request.resolver_match
        name = match.view_name if match is not None else ""
        if name in EXEMPT_VIEWS:
            return None
        if request.path.startswith("/api/") and name not in SESSION_API_VIEWS:
            return None  # bearer tokens, never the session (api/base.py)
        user = request.user
        if not user.is_authenticated or getattr(user, "otp_device", None) is not None:
            return None
        if not needs_second_factor(user):
            return None
        device = app_device(user)
        if device is not None and is_remembered(request, user, device):
            otp_login(request, device)
            return None
        target = reverse("hospitals:mfa_verify" if device is not None else "hospitals:mfa_setup")
        following = _after_verification(request)
        url = f"{target}?{urlencode({'next': following})}" if following else target
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)


class SecondFactorWebsocketGuard:
    """ASGI middleware inside the session/auth stack: a socket of a session that still owes its
    second factor is accepted and closed at once with 4401 (the browser learns why)."""

    def __init__(self, inner: Any, *, open_paths: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.open_paths = open_paths  # token-authenticated sockets (wall screens) do not use the session

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if (
            settings.MFA_ENFORCED
            and scope.get("type") == "websocket"
            and getattr(user, "is_authenticated", False)
            and not (self.open_paths and scope.get("path", "").startswith(self.open_paths))
        ):
            # Read in the handshake's batch (hospitals/websocket_auth.py) when that ran; else here.
            verified = scope.get(SECOND_FACTOR_VERIFIED)
            if verified is None:
                verified = await database_sync_to_async(session_is_verified)(user, scope.get("session") or {})
            if not verified:
                message = await receive()
                if message.get("type") == "websocket.connect":
                    await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": CLOSE_UNVERIFIED})
                return None
        return await self.inner(scope, receive, send)


# --- writes ------------------------------------------------------------------------------------


def enrolment_device(user: User) -> TOTPDevice:
    """The authenticator being set up: the same unconfirmed device (and secret) until it is confirmed."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="app", confirmed=False)
    return device


@dataclass(frozen=True)
class CodeCheck:
    device: Device | None  # the device that accepted the code
    wait_seconds: int = 0  # > 0: too many wrong codes, nothing was checked


def _throttled(device: Device) -> int:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return 0
    locked_until = (info or {}).get("locked_until")
    if locked_until is None:
        return 1
    return max(1, int((locked_until - timezone.now()).total_seconds()) + 1)


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _failed(request: HttpRequest | None, user: User, what: str) -> None:
    audit.record(action=AccessLog.Action.MFA_FAILED, what=what, request=request, user=user, object_id=user.pk)


def enrol_confirm(*, request: HttpRequest | None, user: User, device_id: int, code: str) -> tuple[CodeCheck, list[str]]:
    """Confirm the device being set up with one code from the app. On success the device counts, any
    other unconfirmed one is dropped, and ten new recovery codes are made (returned, shown once);
    MFA_ENROLLED is recorded. A wrong code records MFA_FAILED."""
    codes: list[str] = []
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device_id, user=user, confirmed=False)
        wait = _throttled(device)
        if wait:
            return CodeCheck(None, wait), []
        if not device.verify_token(_normalise(code)):
            accepted = False
        else:
            accepted = True
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            codes = _new_recovery_codes(user)
            audit.record(
                action=AccessLog.Action.MFA_ENROLLED,
                what="second factor",
                request=request,
                user=user,
                object_id=user.pk,
            )
    if not accepted:
        _failed(request, user, "second factor set-up")
        return CodeCheck(None), []
    return CodeCheck(device), codes


def recovery_codes_renew(user: User) -> list[str]:
    """Ten new recovery codes in place of the old ones (returned, shown once)."""
    with transaction.atomic():
        return _new_recovery_codes(user)


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def check_code(*, request: HttpRequest | None, user: User, code: str) -> CodeCheck:
    """Check a code at login: six digits from the app, or a recovery code (spent once it is used).
    A wrong code records MFA_FAILED; repeated wrong codes are throttled by django-otp."""
    token = _normalise(code)
    model: type[TOTPDevice] | type[StaticDevice] = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        accepted = False
        if device is not None:
            wait = _throttled(device)
            if wait:
                return CodeCheck(None, wait)
            accepted = bool(device.verify_token(token))
    if not accepted or device is None:
        _failed(request, user, "second factor")
        return CodeCheck(None)
    return CodeCheck(device)


def forget_devices(user: User) -> None:
    """Delete every second factor of ``user``: their authenticator, recovery codes and so every remembered
    browser (the cookie is bound to the device). Part of ``hospitals.services.member_reset_second_factor``."""
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).delete()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- showing the secret ------------------------------------------------------------------------


def qr_svg(device: TOTPDevice, title: str) -> str:
    """The otpauth URI as an inline SVG QR code (no image request, nothing from elsewhere)."""
    qr = segno.make(device.config_url, error="m")
    return str(qr.svg_inline(scale=5, border=4, dark="#000", light="#fff", title=title, svgclass="qr"))


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
