"""Security headers, https, failing closed in production, and the session idle timeout.

Settings read the environment once, at import: what depends on it (BEHIND_HTTPS, the production
topology's required variables) is tested in a fresh Python process per environment. The headers
and the idle timeout are tested in-process with Django's test client. The CSP in a real browser:
tests/test_security_csp.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from capacity.models import Unit
from core.middleware import LAST_ACTIVITY
from tests.conftest import World

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DATABASE_URL": "postgres://nobody@127.0.0.1:1/not-connected",  # setup() does not connect
    "SECRET_KEY": "a-test-secret-key-that-is-long-enough-for-this-check-0123456789",
    "ALLOWED_HOSTS": "capaciteit.example.org",
}


# --- headers on every kind of response -----------------------------------------------------------


def assert_security_headers(response: HttpResponseBase) -> None:
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert "unsafe-eval" not in policy and "unsafe-inline" not in policy
    permissions = headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_page_has_the_security_headers(world: World, client_for) -> None:
    response = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code]))
    assert response.status_code == 200
    assert_security_headers(response)
    assert response["X-Frame-Options"] == "DENY"


def test_the_login_page_has_them_too(client: Client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_an_api_answer_has_them(client: Client) -> None:
    response = client.get("/api/v1/regions")
    assert response.status_code == 401  # no token: a problem document, with the headers all the same
    assert_security_headers(response)


def test_a_static_file_has_them(client: Client) -> None:
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert_security_headers(response)


def test_the_health_check_has_them(client: Client) -> None:
    response = client.get(reverse("health"))
    assert response.status_code in {200, 503}
    assert_security_headers(response)


def test_no_https_headers_without_behind_https(client: Client) -> None:
    response = client.get(reverse("health"), secure=True)
    assert "Strict-Transport-Security" not in response.headers
    assert client.get(reverse("login")).status_code == 200  # no redirect to https


def test_every_unit_kind_has_a_grid_column_in_the_css() -> None:
    """The board's columns come from app.css by data-kinds (a style attribute would break the CSP)."""
    css = (BASE_DIR / "static/css/app.css").read_text()
    assert [kind.value for kind in Unit.KIND_ORDER] == [kind.value for kind in Unit.Kind]
    for kind in Unit.Kind:
        rule = f'.board[data-kinds~="{kind.value}"] {{ --kind-col-{kind.value}: [{kind.value}] minmax(0, 1fr); }}'
        assert rule in css, kind
    columns = css[css.index("--unit-cols:") :]
    columns = columns[: columns.index(";")]
    assert [part.strip() for part in columns.split("var(")[1:]] == [
        f"--kind-col-{kind.value},)" for kind in Unit.KIND_ORDER
    ]


# --- settings from the environment, in a fresh process ---------------------------------------------

SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_REDIRECT_EXEMPT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE",
]}))
"""

# What a load balancer and a browser see over http and https, with the real settings of BEHIND_HTTPS.
REQUESTS_BEHIND_HTTPS = """
import json, django
django.setup()
from django.http import HttpResponseBase
from django.test import Client
c = Client()
page = c.get("/accounts/login/?next=/board/")
health = c.get("/health/")
proxied = c.get("/health/", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({
    "page": [page.status_code, page.get("Location")],
    "health": [health.status_code, health.get("Strict-Transport-Security")],
    "proxied": [proxied.status_code, proxied.get("Strict-Transport-Security")],
}))
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter, with the project's settings and ``env`` over a clean slate."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    clean.pop("ALLOWED_HOSTS", None)
    clean.pop("BEHIND_HTTPS", None)
    clean.pop("SECURE_COOKIES", None)
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", SQLITE_PATH=":memory:", **env)
    return subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def settings_in(**env: str) -> dict[str, object]:
    result = run_python(SHOW_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_behind_https_turns_on_redirect_hsts_and_secure_cookies() -> None:
    values = settings_in(BEHIND_HTTPS="true")
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["LANGUAGE_COOKIE_SECURE"] is True
    assert settings_in(BEHIND_HTTPS="true", SECURE_HSTS_SECONDS="600")["SECURE_HSTS_SECONDS"] == 600


def test_without_behind_https_nothing_forces_https_in_the_embedded_demo() -> None:
    values = settings_in()
    assert not values["SECURE_SSL_REDIRECT"]
    assert not values["SECURE_HSTS_SECONDS"]
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["LANGUAGE_COOKIE_SECURE"] is False


def test_production_is_behind_https_unless_it_says_otherwise() -> None:
    values = settings_in(**PRODUCTION)
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    values = settings_in(**PRODUCTION, BEHIND_HTTPS="false")
    assert not values["SECURE_SSL_REDIRECT"]
    assert values["SESSION_COOKIE_SECURE"] is False


def test_behind_https_redirects_http_but_not_the_health_check() -> None:
    result = run_python(REQUESTS_BEHIND_HTTPS, BEHIND_HTTPS="true")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["page"] == [301, "https://testserver/accounts/login/?next=/board/"]
    # The load balancer's probe over plain http: answered, not redirected, and no HSTS over http.
    assert seen["health"][0] == 200 and seen["health"][1] is None
    # Through the TLS-terminating proxy: HSTS for a year, subdomains included.
    assert seen["proxied"] == [200, "max-age=31536000; includeSubDomains"]


# --- failing closed in production ---------------------------------------------------------------


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_refuses_to_start_without(missing: str, how: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    if how == "empty":
        env[missing] = ""
    result = run_python("import django; django.setup()", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set" in result.stderr


def test_production_refuses_the_embedded_secret_key() -> None:
    from django.conf import settings

    env = {**PRODUCTION, "SECRET_KEY": settings.EMBEDDED_SECRET_KEY}
    result = run_python("import django; django.setup()", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_both_set() -> None:
    result = run_python("import django; django.setup(); print('ok')", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_the_embedded_demo_needs_neither() -> None:
    result = run_python("import django; django.setup(); print('ok')")
    assert result.returncode == 0, result.stderr


# --- session idle timeout -------------------------------------------------------------------------


@pytest.fixture
def idle_after_30(settings: Settings) -> None:
    settings.SESSION_IDLE_TIMEOUT = timedelta(minutes=30)


def set_last_activity(client: Client, seconds_ago: int) -> None:
    session = client.session
    session[LAST_ACTIVITY] = int(time.time()) - seconds_ago
    session.save()


def board_url(world: World) -> str:
    return reverse("capacity:board_region", args=[world.region.code])


def test_an_idle_session_is_logged_out_with_a_message(world: World, client_for, idle_after_30: None) -> None:
    client = client_for(world.midwife)
    client.cookies["django_language"] = "en"
    assert client.get(board_url(world)).status_code == 200
    set_last_activity(client, 31 * 60)

    response = client.get(board_url(world), follow=True)
    assert response.redirect_chain[-1][0] == f"{reverse('login')}?next={board_url(world)}"
    assert "You were logged out after 30 minutes without activity." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(board_url(world)).status_code == 302  # still out


def test_an_active_session_stays_and_activity_extends_it(world: World, client_for, idle_after_30: None) -> None:
    client = client_for(world.midwife)
    client.get(board_url(world))
    set_last_activity(client, 29 * 60)
    before = client.session[LAST_ACTIVITY]
    assert client.get(board_url(world)).status_code == 200
    after = client.session[LAST_ACTIVITY]
    assert after >= int(time.time()) - 5 > before
    assert client.session["_auth_user_id"] == str(world.midwife.pk)


def test_the_session_is_written_at_most_once_a_minute(world: World, client_for, idle_after_30: None) -> None:
    client = client_for(world.midwife)
    client.get(board_url(world))
    set_last_activity(client, 20)
    before = client.session[LAST_ACTIVITY]
    assert client.get(board_url(world)).status_code == 200
    assert client.session[LAST_ACTIVITY] == before


def test_background_refreshes_are_not_activity(world: World, client_for, idle_after_30: None) -> None:
    """The board's polling fallback would otherwise keep an unattended screen signed in for ever."""
    client = client_for(world.midwife)
    client.get(board_url(world))
    set_last_activity(client, 20 * 60)
    before = client.session[LAST_ACTIVITY]
    poll = client.get(
        reverse("capacity:board_rows", args=[world.region.code]),
        headers={"HX-Request": "true", "HX-Trigger": "board-list", "HX-Target": "board-list"},
    )
    assert poll.status_code == 200
    assert client.session[LAST_ACTIVITY] == before
    # A click of the person's own (another target) does count.
    client.get(board_url(world), headers={"HX-Request": "true", "HX-Target": "main"})
    assert client.session[LAST_ACTIVITY] > before


def test_an_idle_htmx_request_sends_the_whole_page_to_the_login(world: World, client_for, idle_after_30: None) -> None:
    client = client_for(world.midwife)
    client.get(board_url(world))
    set_last_activity(client, 31 * 60)
    response = client.get(
        reverse("capacity:board_rows", args=[world.region.code]),
        headers={
            "HX-Request": "true",
            "HX-Target": "board-list",
            "HX-Current-URL": f"http://testserver{board_url(world)}?layout=grid",
        },
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('login')}?next={board_url(world)}%3Flayout%3Dgrid"
    assert "_auth_user_id" not in client.session


def test_idle_timeout_zero_never_logs_out(world: World, client_for, settings: Settings) -> None:
    settings.SESSION_IDLE_TIMEOUT = timedelta(0)
    client = client_for(world.midwife)
    client.get(board_url(world))
    set_last_activity(client, 24 * 3600)
    assert client.get(board_url(world)).status_code == 200
