"""Login lockout (django-axes): both login pages, per account and per address, the cool-off, unlocking,
API token failures, and the access-log entries of logins, failures, lockouts and logouts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from hospitals.lockout import API_FAILURE_USERNAME
from hospitals.models import AccessLog, User
from tests.api_support import Api, org_token
from tests.conftest import PASSWORD, World

LIMIT = 5
PAGES = ["/accounts/login/", "/admin/login/"]
ANOTHER_ADDRESS = "192.0.2.7"  # TEST-NET-1: never sent anywhere, only put in REMOTE_ADDR


@pytest.fixture(autouse=True)
def lockout_settings(settings) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def client_in(language: str) -> Client:
    client = Client()
    client.cookies["django_language"] = language
    return client


def log_in(client: Client, page: str, username: str, password: str, **extra: Any) -> Any:
    return client.post(page, {"username": username, "password": password, "next": "/"}, **extra)


def fail(client: Client, page: str, username: str, times: int = LIMIT, **extra: Any) -> None:
    for _ in range(times):
        log_in(client, page, username, "wrong-password-here", **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def entries(action: str) -> list[AccessLog]:
    return list(AccessLog.objects.filter(action=action).order_by("id"))


# --- the lock -----------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_right_password_is_refused_after_the_limit_with_the_message_in_english(world: World, page: str) -> None:
    user = world.staff if page == PAGES[0] else world.national_admin
    client = client_in("en")
    fail(client, page, user.username, LIMIT - 1)
    assert not AccessLog.objects.filter(action=AccessLog.Action.LOCKED_OUT).exists()
    fail(client, page, user.username, 1)
    response = log_in(client, page, user.username, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    body = response.content.decode()
    assert 'id="login-locked"' in body and 'role="alert"' in body
    assert "Logging in is locked for now." in body
    assert "(the lock lasts 15 min.)" in body
    assert "An administrator of your organisation can unlock your account" in body
    assert 'name="username"' in body and 'name="password"' in body  # still the login page
    assert f'value="{user.username}"' in body


@pytest.mark.parametrize("page", PAGES)
def test_the_locked_page_is_dutch_by_default(world: World, page: str) -> None:
    client = Client()
    fail(client, page, world.staff.username)
    response = log_in(client, page, world.staff.username, PASSWORD)
    assert response.status_code == 429
    body = response.content.decode()
    assert '<html lang="nl"' in body and 'id="login-locked"' in body
    assert "Wachtwoord" in body  # the login form around it, in Dutch


def test_the_limit_reaching_failure_already_shows_the_lock(world: World) -> None:
    client = client_in("en")
    fail(client, PAGES[0], "staff", LIMIT - 1)
    response = log_in(client, PAGES[0], "staff", "wrong-password-here")
    assert response.status_code == 429 and 'id="login-locked"' in response.content.decode()


def test_account_lock_holds_from_any_address_and_other_accounts_still_log_in(world: World) -> None:
    fail(Client(), PAGES[0], "staff")
    elsewhere = Client(REMOTE_ADDR=ANOTHER_ADDRESS)
    assert log_in(elsewhere, PAGES[0], "staff", PASSWORD).status_code == 429
    assert not logged_in(elsewhere)
    assert log_in(elsewhere, PAGES[0], "midwife", PASSWORD).status_code == 302
    assert logged_in(elsewhere)


def test_an_address_is_locked_by_failures_on_different_usernames(world: World) -> None:
    client = Client()
    for name in ["staff", "midwife", "nobody", "coordinator", "org_admin"]:
        fail(client, PAGES[0], name, 1)
    # No account reached the limit, the address did: even a right password from here is refused ...
    response = log_in(client, PAGES[0], "other_staff", PASSWORD)
    assert response.status_code == 429 and not logged_in(client)
    # ... while the same account logs in from another address.
    elsewhere = Client(REMOTE_ADDR=ANOTHER_ADDRESS)
    assert log_in(elsewhere, PAGES[0], "other_staff", PASSWORD).status_code == 302


def test_the_cool_off_ends_the_lock(world: World) -> None:
    client = Client()
    fail(client, PAGES[0], "staff")
    assert log_in(client, PAGES[0], "staff", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert log_in(client, PAGES[0], "staff", PASSWORD).status_code == 302
    assert logged_in(client)


def test_attempts_while_locked_do_not_extend_the_cool_off(world: World) -> None:
    client = Client()
    fail(client, PAGES[0], "staff")
    locked_at = AccessAttempt.objects.get().attempt_time
    fail(client, PAGES[0], "staff", 3)
    assert AccessAttempt.objects.get().attempt_time == locked_at


def test_a_success_below_the_limit_resets_the_count(world: World) -> None:
    client = Client()
    fail(client, PAGES[0], "staff", LIMIT - 1)
    assert log_in(client, PAGES[0], "staff", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="staff").exists()


def test_cool_off_and_limit_come_from_the_settings(world: World, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=3)
    client = client_in("en")
    fail(client, PAGES[0], "staff", 2)
    body = log_in(client, PAGES[0], "staff", PASSWORD).content.decode()
    assert "(the lock lasts 3 min.)" in body


# --- unlocking ------------------------------------------------------------------------------


def unlock_url(user: User) -> str:
    return reverse("hospitals:member_unlock", args=[user.pk])


def test_members_page_says_locked_in_words_and_the_org_admin_unlocks(world: World, client_for) -> None:
    fail(Client(REMOTE_ADDR=ANOTHER_ADDRESS), PAGES[0], "staff")
    admin = client_for(world.org_admin)
    admin.cookies["django_language"] = "en"
    body = admin.get("/accounts/members/").content.decode()
    assert f'data-locked="{world.staff.pk}"' in body and "locked after failed logins" in body
    assert f'action="{unlock_url(world.staff)}"' in body
    assert f'data-locked="{world.org_admin.pk}"' not in body

    response = admin.post(unlock_url(world.staff))
    assert response.status_code == 302 and response["Location"] == "/accounts/members/"
    assert not AccessAttempt.objects.filter(username="staff").exists()
    assert "data-locked" not in admin.get("/accounts/members/").content.decode()
    [entry] = entries(AccessLog.Action.UNLOCKED)
    assert (entry.user, entry.what, entry.object_id) == (world.org_admin, "account", str(world.staff.pk))
    assert entry.ip == "127.0.0.1"
    assert log_in(Client(REMOTE_ADDR=ANOTHER_ADDRESS), PAGES[0], "staff", PASSWORD).status_code == 302


def test_national_admin_unlocks_anyone_from_the_locked_accounts_page(world: World, client_for) -> None:
    fail(Client(REMOTE_ADDR=ANOTHER_ADDRESS), PAGES[0], "other_staff")
    admin = client_for(world.national_admin)
    body = admin.get(reverse("hospitals:locked_accounts")).content.decode()
    assert f'data-unlock="{world.other_staff.pk}"' in body and f'data-unlock="{world.staff.pk}"' not in body
    response = admin.post(unlock_url(world.other_staff), {"next": reverse("hospitals:locked_accounts")})
    assert response.status_code == 302 and response["Location"] == reverse("hospitals:locked_accounts")
    assert not AccessAttempt.objects.filter(username="other_staff").exists()
    assert "data-none-locked" in admin.get(reverse("hospitals:locked_accounts")).content.decode()
    [entry] = entries(AccessLog.Action.UNLOCKED)
    assert (entry.user, entry.object_id) == (world.national_admin, str(world.other_staff.pk))


def test_locked_accounts_page_shows_an_org_admin_only_their_own(world: World, client_for) -> None:
    fail(Client(REMOTE_ADDR=ANOTHER_ADDRESS), PAGES[0], "other_staff")
    fail(Client(REMOTE_ADDR="192.0.2.8"), PAGES[0], "staff")
    body = client_for(world.org_admin).get(reverse("hospitals:locked_accounts")).content.decode()
    assert f'data-unlock="{world.staff.pk}"' in body and f'data-unlock="{world.other_staff.pk}"' not in body


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "no_role"])
def test_others_may_not_unlock(world: World, client_for, persona: str) -> None:
    client = client_for(world.personas()[persona])  # a login resets that account's own attempts: first
    fail(Client(), PAGES[0], "staff")
    assert client.post(unlock_url(world.staff)).status_code == 403
    assert client.get(reverse("hospitals:locked_accounts")).status_code == 403
    assert AccessAttempt.objects.filter(username="staff").exists()
    assert not entries(AccessLog.Action.UNLOCKED)


def test_another_organisations_admin_may_not_unlock(world: World, client_for) -> None:
    fail(Client(), PAGES[0], "other_staff")
    assert client_for(world.org_admin).post(unlock_url(world.other_staff)).status_code == 403
    assert AccessAttempt.objects.filter(username="other_staff").exists()
    assert not entries(AccessLog.Action.UNLOCKED)


def test_unlock_is_post_only_needs_login_and_an_existing_account(world: World, client_for) -> None:
    assert Client().post(unlock_url(world.staff))["Location"].startswith(reverse("login"))
    admin = client_for(world.org_admin)
    assert admin.get(unlock_url(world.staff)).status_code == 405
    assert admin.post(reverse("hospitals:member_unlock", args=[99999])).status_code == 404


def test_unlock_needs_csrf(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.org_admin)
    assert client.post(unlock_url(world.staff)).status_code == 403


def test_unlock_does_not_follow_a_next_off_site(world: World, client_for) -> None:
    response = client_for(world.national_admin).post(unlock_url(world.staff), {"next": "https://evil.example/"})
    assert response["Location"] == "/accounts/members/"


# --- API tokens ---------------------------------------------------------------------------------


def problem(response) -> dict:
    assert response["Content-Type"] == "application/problem+json"
    return json.loads(response.content)


def test_repeated_bad_tokens_lock_the_address_with_429_problem_json(world: World) -> None:
    good = org_token(world.hospital, world.org_admin)
    for _ in range(LIMIT - 1):
        assert Api("bcap_nonsense").get("/regions").status_code == 401
    locking = Api("bcap_nonsense").get("/regions")
    assert locking.status_code == 429 and problem(locking)["type"].endswith("/locked-out")
    # Now even a good token from this address is refused, with a Retry-After ...
    refused = Api(good).get("/regions")
    body = problem(refused)
    assert (refused.status_code, body["status"], body["instance"]) == (429, 429, "/api/v1/regions")
    assert 0 < int(refused["Retry-After"]) <= 15 * 60 + 1
    assert "15 min." in body["detail"]
    # ... while the same good token works from another address,
    api = Api(good)
    api.client = Client(REMOTE_ADDR=ANOTHER_ADDRESS)
    assert api.get("/regions").status_code == 200
    # and no account is locked by it.
    assert log_in(Client(REMOTE_ADDR=ANOTHER_ADDRESS), PAGES[0], "staff", PASSWORD).status_code == 302


def test_a_revoked_token_counts_and_the_cool_off_ends_the_api_lock(world: World) -> None:
    from api.services import api_token_revoke
    from capacity.models import ApiToken

    revoked = org_token(world.hospital, world.org_admin)
    api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)
    good = org_token(world.hospital, world.org_admin)
    for _ in range(LIMIT):
        Api(revoked).get("/regions")
    assert Api(good).get("/regions").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert Api(good).get("/regions").status_code == 200


def test_a_missing_token_does_not_count(world: World) -> None:
    for _ in range(LIMIT + 1):
        assert Api(None).get("/regions").status_code == 401
    assert not AccessAttempt.objects.exists()


def test_api_failures_are_kept_under_a_name_no_account_can_have(world: World) -> None:
    Api("bcap_nonsense").get("/regions")
    attempt = AccessAttempt.objects.get()
    assert attempt.username == API_FAILURE_USERNAME and attempt.ip_address == "127.0.0.1"
    assert "bcap_nonsense" not in attempt.get_data + attempt.post_data


# --- access log: exactly one entry per event ------------------------------------------------------


def test_login_and_logout_write_one_entry_each(world: World) -> None:
    client = Client()
    assert log_in(client, PAGES[0], "staff", PASSWORD).status_code == 302
    [login] = entries(AccessLog.Action.LOGIN)
    assert (login.user, login.username, login.what, login.ip) == (world.staff, "staff", "login", "127.0.0.1")
    assert login.organisation == world.hospital.name and login.role == User.Role.HOSPITAL_STAFF
    client.post(reverse("logout"))
    [logout] = entries(AccessLog.Action.LOGOUT)
    assert (logout.user, logout.what) == (world.staff, "login")
    assert AccessLog.objects.count() == 2


def test_failed_logins_write_one_entry_each_with_the_typed_name_and_no_password(world: World) -> None:
    client = Client()
    log_in(client, PAGES[0], "staff", "wrong-password-here")
    log_in(client, PAGES[1], "no-such-person", "another-wrong-one")
    rows = entries(AccessLog.Action.LOGIN_FAILED)
    assert [(row.username, row.user, row.ip) for row in rows] == [
        ("staff", None, "127.0.0.1"),
        ("no-such-person", None, "127.0.0.1"),
    ]
    assert AccessLog.objects.count() == 2
    for row in AccessLog.objects.all():
        assert "wrong" not in f"{row.what} {row.scope} {row.path} {row.object_id}"


def test_a_lockout_writes_one_entry_and_attempts_while_locked_only_failures(world: World) -> None:
    client = Client()
    fail(client, PAGES[0], "staff", LIMIT + 2)
    log_in(client, PAGES[0], "staff", PASSWORD)
    [locked] = entries(AccessLog.Action.LOCKED_OUT)
    assert (locked.username, locked.what, locked.ip, locked.scope) == (
        "staff",
        "login",
        "127.0.0.1",
        f"failures={LIMIT}",
    )
    # Every refused attempt is a failure, the right password while locked included; none is a login.
    assert len(entries(AccessLog.Action.LOGIN_FAILED)) == LIMIT + 3
    assert not entries(AccessLog.Action.LOGIN)


def test_api_token_failures_and_their_lockout_are_logged(world: World) -> None:
    for _ in range(LIMIT + 1):
        Api("bcap_nonsense").get("/regions")
    # The sixth call is refused before any token is looked at: not a failure of its own.
    failed = entries(AccessLog.Action.LOGIN_FAILED)
    assert [(row.what, row.username) for row in failed] == [("api token", "")] * LIMIT
    [locked] = entries(AccessLog.Action.LOCKED_OUT)
    assert (locked.what, locked.username, locked.ip) == ("api token", "", "127.0.0.1")


# --- under ASGI, as uvicorn serves it -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_page_under_asgi(world: World) -> None:
    """Axes' async middleware passes its arguments differently: the page must still name the account."""
    from django.test import AsyncClient

    client = AsyncClient()
    client.cookies["django_language"] = "en"
    for _ in range(LIMIT):
        await client.post(PAGES[0], {"username": "staff", "password": "wrong-password-here"})
    response = await client.post(PAGES[0], {"username": "staff", "password": PASSWORD})
    body = response.content.decode()
    assert response.status_code == 429
    assert "Logging in is locked for now." in body and 'value="staff"' in body
