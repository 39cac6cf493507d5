"""The second factor (hospitals/mfa.py, hospitals/mfa_views.py, docs/security.md): who must use it,
enrolment, the verify gate, recovery codes, the remembered device, the administrator's reset,
the websocket guard and the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import signing
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from hospitals import mfa
from hospitals.models import AccessLog, AccountChange, Organisation, User
from hospitals.services import member_reset_second_factor
from tests.conftest import World

SETUP = reverse("hospitals:mfa_setup")
VERIFY = reverse("hospitals:mfa_verify")
BOARD = "/board/"


@pytest.fixture(autouse=True)
def enforced(settings: Settings) -> None:
    """Production mode (tests/conftest.py turns it off for the rest of the suite); no waiting after a wrong code."""
    settings.MFA_ENFORCED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def code(device: TOTPDevice, ahead: int = 0) -> str:
    """The code the app shows now (``ahead`` steps later: a fresh code after one was used)."""
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift + ahead)
    return f"{value:06d}"


def wrong(right: str) -> str:
    return f"{(int(right) + 1) % 1_000_000:06d}"


def enrolled(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="app", confirmed=True)


def recovery(user: User, *codes: str) -> None:
    device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    for token in codes:
        StaticToken.objects.create(device=device, token=token)


def log(action: str) -> int:
    return AccessLog.objects.filter(action=action).count()


# --- policy ----------------------------------------------------------------------------------


def test_required_roles_and_organisation_policy(world: World) -> None:
    for persona in (world.coordinator, world.org_admin, world.national_admin):
        assert mfa.is_required(persona)
    for persona in (world.staff, world.midwife):
        assert not mfa.is_required(persona)
    Organisation.objects.filter(pk=world.hospital.pk).update(mfa_policy=Organisation.MfaPolicy.REQUIRED)
    assert mfa.is_required(world.staff)
    assert not mfa.is_required(world.midwife)  # another organisation


def test_staff_not_asked_unless_their_organisation_requires(world: World, client: Client) -> None:
    client.force_login(world.staff)
    assert client.get("/units/").status_code == 200
    Organisation.objects.filter(pk=world.hospital.pk).update(mfa_policy=Organisation.MfaPolicy.REQUIRED)
    response = client.get("/units/")
    assert response.status_code == 302 and response["Location"] == f"{SETUP}?next=%2Funits%2F"


def test_voluntary_device_is_asked_for(world: World, client: Client) -> None:
    enrolled(world.midwife)
    client.force_login(world.midwife)
    assert client.get(BOARD)["Location"].startswith(VERIFY)


def test_embedded_mode_asks_nobody(world: World, client: Client, settings: Settings) -> None:
    settings.MFA_ENFORCED = False
    enrolled(world.coordinator)
    client.force_login(world.coordinator)
    assert client.get(BOARD).status_code == 200
    assert mfa.session_is_verified(world.coordinator, {})


@pytest.mark.parametrize(("database_url", "expected"), [("", "False"), ("postgres://x@127.0.0.1/x", "True")])
def test_enforced_by_default_only_in_production(database_url: str, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    # Otherwise the environment the suite runs with (production checks such as SECRET_KEY pass there too).
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings", MFA_REMEMBER_HOURS="48")
    script = "from django.conf import settings as s; print(s.MFA_ENFORCED, s.MFA_REMEMBER_HOURS, s.MFA_REQUIRED_ROLES)"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split()[0] == expected
    assert "12 ['national_admin', 'org_admin', 'coordinator']" in out.stdout  # the remembered time is capped


# --- enrolment -------------------------------------------------------------------------------


def test_coordinator_must_enrol(world: World, client: Client) -> None:
    client.force_login(world.coordinator)
    response = client.get(BOARD)
    assert response.status_code == 302 and response["Location"] == f"{SETUP}?next=%2Fboard%2F"

    page = client.get(response["Location"])
    body = page.content.decode()
    device = TOTPDevice.objects.get(user=world.coordinator, confirmed=False)
    assert page.status_code == 200 and "<svg" in body and mfa.secret_text(device) in body
    assert client.get(SETUP).content.decode().count(mfa.secret_text(device)) == 1  # the same secret on reload

    refused = client.post(SETUP, {"code": wrong(code(device)), "next": BOARD})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in body and 'aria-describedby="id_code-error id_code_helptext"' in body
    assert 'id="id_code-error"' in body
    assert log(AccessLog.Action.MFA_FAILED) == 1 and log(AccessLog.Action.MFA_ENROLLED) == 0
    assert client.get(BOARD).status_code == 302

    accepted = client.post(SETUP, {"code": code(device), "next": BOARD})
    assert accepted.status_code == 302 and accepted["Location"].startswith(reverse("hospitals:mfa_recovery_codes"))
    device.refresh_from_db()
    assert device.confirmed
    assert log(AccessLog.Action.MFA_ENROLLED) == 1 and log(AccessLog.Action.MFA_FAILED) == 1
    codes = list(StaticToken.objects.filter(device__user=world.coordinator).values_list("token", flat=True))
    assert len(codes) == 10

    shown = client.get(accepted["Location"]).content.decode()
    assert all(c in shown for c in codes)
    stored = client.post(reverse("hospitals:mfa_recovery_codes"), {"next": BOARD})
    assert stored["Location"] == BOARD
    assert client.get(reverse("hospitals:mfa_recovery_codes"))["Location"] == reverse("home")  # shown once
    assert client.get(BOARD).status_code == 200


def test_enrolment_page_needs_login(world: World, client: Client) -> None:
    assert client.get(SETUP)["Location"].startswith(reverse("login"))
    assert client.get(VERIFY)["Location"].startswith(reverse("login"))


# --- the gate --------------------------------------------------------------------------------


def test_pages_lead_to_verify_until_verified(world: World, client: Client) -> None:
    device = enrolled(world.coordinator)
    client.force_login(world.coordinator)
    assert client.get(BOARD)["Location"] == f"{VERIFY}?next=%2Fboard%2F"
    assert client.get("/admin/")["Location"].startswith(VERIFY)
    assert client.post(reverse("capacity:screens"), {})["Location"] == VERIFY  # a POST is not replayed
    htmx = client.get(
        "/board/rows/national/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/board/"}
    )
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == f"{VERIFY}?next=%2Fboard%2F"
    # Still open: health, the token API (its own authentication), the verify page, logout.
    assert client.get("/health/").status_code == 200
    assert client.get("/api/v1/locations").status_code == 401
    assert client.get(VERIFY).status_code == 200

    refused = client.post(VERIFY, {"code": wrong(code(device))})
    assert refused.status_code == 400 and 'id="id_code-error"' in refused.content.decode()
    assert log(AccessLog.Action.MFA_FAILED) == 1

    verified = client.post(VERIFY, {"code": code(device), "next": BOARD})
    assert verified["Location"] == BOARD
    assert client.get(BOARD).status_code == 200
    assert client.get(VERIFY)["Location"] == reverse("home")
    assert client.post(reverse("logout"))["Location"] == reverse("login")


def test_verify_refuses_an_outside_next(world: World, client: Client) -> None:
    device = enrolled(world.coordinator)
    client.force_login(world.coordinator)
    response = client.post(VERIFY, {"code": code(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_recovery_code_works_once(world: World, client: Client) -> None:
    enrolled(world.coordinator)
    recovery(world.coordinator, "abcd2345", "efgh6723")
    client.force_login(world.coordinator)
    assert client.post(VERIFY, {"code": "ABCD 2345", "next": BOARD})["Location"] == BOARD
    assert client.get(BOARD).status_code == 200
    assert mfa.recovery_codes_left(world.coordinator) == 1

    client.logout()
    client.force_login(world.coordinator)
    assert client.post(VERIFY, {"code": "abcd2345"}).status_code == 400
    assert client.get(BOARD).status_code == 302
    assert log(AccessLog.Action.MFA_FAILED) == 1


def test_wrong_codes_are_throttled(world: World, client: Client, settings: Settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    device = enrolled(world.coordinator)
    client.force_login(world.coordinator)
    client.post(VERIFY, {"code": wrong(code(device))})
    throttled = client.post(VERIFY, {"code": code(device)})  # right, but too soon after a wrong one
    assert throttled.status_code == 400 and 'id="id_code-error"' in throttled.content.decode()
    assert client.get(BOARD).status_code == 302


# --- remember this device --------------------------------------------------------------------


def _verify_remembering(client: Client, device: TOTPDevice, ahead: int = 0) -> str:
    response = client.post(VERIFY, {"code": code(device, ahead), "remember": "on", "next": BOARD})
    assert response["Location"] == BOARD
    cookie = response.cookies[mfa.REMEMBER_COOKIE]
    assert cookie["httponly"] and int(cookie["max-age"]) == 12 * 3600
    return cookie.value


def _new_login(client: Client, user: User, remembered: str) -> None:
    client.logout()  # the test client forgets every cookie here; a browser keeps this one
    client.force_login(user)
    client.cookies[mfa.REMEMBER_COOKIE] = remembered


def test_remembered_device_skips_the_code_for_a_shift(world: World, client: Client) -> None:
    device = enrolled(world.coordinator)
    client.force_login(world.coordinator)
    remembered = _verify_remembering(client, device)
    _new_login(client, world.coordinator, remembered)
    assert client.get(BOARD).status_code == 200

    # Not for someone else on the same browser.
    enrolled(world.org_admin)
    _new_login(client, world.org_admin, remembered)
    assert client.get(BOARD)["Location"].startswith(VERIFY)


def test_remembered_device_expires(world: World, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    device = enrolled(world.coordinator)
    client.force_login(world.coordinator)
    with monkeypatch.context() as patched:  # signed 12 hours and a minute ago
        patched.setattr(
            signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(time.time()) - 12 * 3600 - 60)
        )
        remembered = _verify_remembering(client, device)
    _new_login(client, world.coordinator, remembered)
    assert client.get(BOARD)["Location"].startswith(VERIFY)


def test_remembered_device_ends_with_a_reset(world: World, client: Client) -> None:
    device = enrolled(world.coordinator)
    client.force_login(world.coordinator)
    remembered = _verify_remembering(client, device)
    member_reset_second_factor(by=world.national_admin, member_id=world.coordinator.pk)
    TOTPDevice.objects.create(user=world.coordinator, name="app", confirmed=True, key=device.key)  # same secret again
    _new_login(client, world.coordinator, remembered)
    assert client.get(BOARD)["Location"].startswith(VERIFY)


# --- reset -----------------------------------------------------------------------------------


def test_org_admin_resets_a_member(world: World, client: Client) -> None:
    Organisation.objects.filter(pk=world.hospital.pk).update(mfa_policy=Organisation.MfaPolicy.REQUIRED)
    enrolled(world.staff)
    recovery(world.staff, "abcd2345")
    enrolled(world.org_admin)
    member_session = Client()
    member_session.force_login(world.staff)
    member_session.post(VERIFY, {"code": code(TOTPDevice.objects.get(user=world.staff))})
    assert member_session.get("/units/").status_code == 200

    client.force_login(world.org_admin)
    client.post(VERIFY, {"code": code(TOTPDevice.objects.get(user=world.org_admin))})
    page = client.get(reverse("hospitals:members")).content.decode()
    url = reverse("hospitals:member_mfa_reset", args=[world.staff.pk])
    assert f'action="{url}"' in page
    assert reverse("hospitals:member_mfa_reset", args=[world.org_admin.pk]) not in page  # not oneself

    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response["Location"] == reverse("hospitals:members")
    assert not TOTPDevice.objects.filter(user=world.staff).exists()
    assert not StaticDevice.objects.filter(user=world.staff).exists()
    change = AccountChange.objects.get(action=AccountChange.Action.MFA_RESET)
    assert (change.account, change.by) == (world.staff, world.org_admin)
    entry = AccessLog.objects.get(action=AccessLog.Action.MFA_RESET)
    assert (entry.user, entry.what, entry.object_id) == (world.org_admin, "account", str(world.staff.pk))
    # The member's open session must set up a new second factor.
    assert member_session.get("/units/")["Location"].startswith(SETUP)


def test_reset_needs_csrf(world: World) -> None:
    enrolled(world.staff)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(world.org_admin)
    enrolled(world.org_admin)
    csrf_client.post(VERIFY, {"code": code(TOTPDevice.objects.get(user=world.org_admin))})
    assert csrf_client.post(reverse("hospitals:member_mfa_reset", args=[world.staff.pk])).status_code == 403
    assert TOTPDevice.objects.filter(user=world.staff).exists()


@pytest.mark.parametrize("persona", ["staff", "midwife", "coordinator", "no_role"])
def test_other_roles_cannot_reset(world: World, persona: str, settings: Settings) -> None:
    settings.MFA_ENFORCED = False  # only the permission is under test here
    enrolled(world.other_staff)
    client = Client()
    client.force_login(world.personas()[persona])
    assert client.post(reverse("hospitals:member_mfa_reset", args=[world.other_staff.pk])).status_code == 403
    assert TOTPDevice.objects.filter(user=world.other_staff).exists()
    assert not AccountChange.objects.filter(action=AccountChange.Action.MFA_RESET).exists()
    assert log(AccessLog.Action.MFA_RESET) == 0


def test_org_admin_cannot_reset_another_organisation_or_self(world: World, client: Client, settings: Settings) -> None:
    settings.MFA_ENFORCED = False
    enrolled(world.other_staff)
    enrolled(world.org_admin)
    client.force_login(world.org_admin)
    assert client.post(reverse("hospitals:member_mfa_reset", args=[world.other_staff.pk])).status_code == 403
    assert client.post(reverse("hospitals:member_mfa_reset", args=[world.org_admin.pk])).status_code == 403
    assert TOTPDevice.objects.count() == 2 and log(AccessLog.Action.MFA_RESET) == 0


def test_national_admin_resets_anyone(world: World, client: Client, settings: Settings) -> None:
    settings.MFA_ENFORCED = False
    enrolled(world.other_staff)
    client.force_login(world.national_admin)
    client.post(reverse("hospitals:member_mfa_reset", args=[world.other_staff.pk]))
    assert not TOTPDevice.objects.filter(user=world.other_staff).exists()
    assert AccountChange.objects.filter(action=AccountChange.Action.MFA_RESET, by=world.national_admin).count() == 1


# --- the account page and websockets ---------------------------------------------------------


def test_account_page_offers_voluntary_set_up(world: World, client: Client) -> None:
    client.force_login(world.midwife)
    body = client.get(reverse("hospitals:mfa_account")).content.decode()
    assert 'data-mfa-status="off"' in body and f'href="{SETUP}"' in body


class _Accepting:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})


def _communicator(user: Any, session: dict[str, Any], path: str = "/ws/search/") -> WebsocketCommunicator:
    guard = mfa.SecondFactorWebsocketGuard(_Accepting(), open_paths=("/ws/board/screen/",))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await guard({**scope, "user": user, "session": session}, receive, send)

    return WebsocketCommunicator(app, path)


@pytest.mark.django_db(transaction=True)
async def test_websocket_closes_4401_until_verified(world: World) -> None:
    device = await database_sync_to_async(enrolled)(world.coordinator)

    socket = _communicator(world.coordinator, {})
    assert (await socket.connect())[0]
    assert await socket.receive_output() == {"type": "websocket.close", "code": mfa.CLOSE_UNVERIFIED}

    verified = _communicator(world.coordinator, {"otp_device_id": device.persistent_id})
    assert (await verified.connect())[0]
    assert await verified.receive_nothing()
    await verified.disconnect()

    screen = _communicator(world.coordinator, {}, "/ws/board/screen/abc/")  # token sockets do not use the session
    assert (await screen.connect())[0]
    assert await screen.receive_nothing()
    await screen.disconnect()


def test_every_session_view_is_gated_even_those_that_check_the_session_themselves(world: World) -> None:
    """search/results.json and the API docs are marked login_not_required (they answer 401 themselves), but
    they read the session: a password-only session of a coordinator must not get past them either."""
    from tests.api_support import Api, org_token

    enrolled(world.coordinator)
    client = Client()
    client.force_login(world.coordinator)
    for path in ("/search/results.json?where=3584&care=overdracht", "/api/v1/openapi.json", "/api/v1/docs", "/board/"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/second-factor/verify/" in response["Location"], path
    # Still open: the health probe, the language switch, and the token API (no session involved).
    assert client.get("/health/").status_code == 200
    assert client.post("/i18n/setlang/", {"language": "en", "next": "/"}).status_code == 302
    api = Api(org_token(world.hospital, world.org_admin))
    assert api.get("/regions").status_code == 200
