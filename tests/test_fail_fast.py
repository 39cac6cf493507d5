"""Fail fast, recover fast (docs/operations.md): the database cut for real, and the error pages.

The live tests start a real uvicorn process whose DATABASE_URL points at a TCP forwarder to the
test run's PostgreSQL, owned by the test. Cutting the forwarder drops every open connection and
then either holds new ones silent (``blackhole``: a host that does not answer, so a connect
waits for its timeout) or closes them at once (``refuse``: a server that is restarting). Bounds:

* ``/health/`` answers within 2 s with the database named as down (its checks stop at 1.5 s);
* a page answers the 503 page, Dutch or English by the language cookie, within 3 s
  (the pool gives up after ``DB_POOL_TIMEOUT`` = 2 s);
* after a 20 s outage (long enough for psycopg_pool's default back-off, 1, 2, 4, 8, 16 s…, to
  leave a gap of 10 s or more) pages are served again within 5 s of the database's return.

The unit tests cover the error pages in both languages and the API's problem documents.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from core import views as core_views
from core.middleware import DatabaseUnavailableMiddleware
from tests.conftest import PASSWORD, World
from tests.live_server import (
    HttpSession,
    LiveServer,
    database_url_for_servers,
    give_server_usable_password,
    services_missing,
    spawn_server,
    wait_until_healthy,
)

HEALTH_BOUND = 2.0  # seconds
PAGE_BOUND = 3.0
RECOVERY_BOUND = 5.0
OUTAGE = 20.0  # seconds the database stays cut before it returns


# --- a database connection the test can cut ----------------------------------------------------


class DatabaseProxy:
    """A TCP forwarder to PostgreSQL: ``cut(mode)`` drops it, ``restore()`` brings it back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "up"
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []  # both ends of every forwarded connection
        self.held: list[socket.socket] = []  # connections accepted while blackholed
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.closed = False
        self.thread = threading.Thread(target=self._accept, name="db-proxy", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                mode = self.mode
                if mode == "blackhole":
                    self.held.append(client)
                    continue
            if mode == "refuse":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                _drop(end)

    def cut(self, mode: str) -> None:
        with self.lock:
            self.mode = mode
            dropped, self.open = self.open, []
        for end in dropped:
            _drop(end)

    def restore(self) -> None:
        with self.lock:
            self.mode = "up"
            held, self.held = self.held, []
        for end in held:
            _drop(end)

    def close(self) -> None:
        self.closed = True
        self.cut("refuse")
        self.restore()
        self.listener.close()
        self.thread.join(timeout=2)


def _drop(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        end.close()


def proxied_database_url(port: int) -> str:
    url = urllib.parse.urlsplit(database_url_for_servers())
    auth = url.netloc.rpartition("@")[0]
    netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
    return urllib.parse.urlunsplit(url._replace(netloc=netloc))


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def timed_get(
    url: str, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None, timeout: float = 15.0
) -> Answer:
    """GET with the given cookies; slow answers are measured, not cut short (the old code took 10 s)."""
    request = urllib.request.Request(url)  # noqa: S310 - http://127.0.0.1 only
    if cookies:
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, body, received = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        status, body, received = error.code, error.read().decode(errors="replace"), error.headers
    return Answer(status, body, {k.lower(): v for k, v in received.items()}, time.monotonic() - started)


@pytest.fixture
def proxy() -> Iterator[DatabaseProxy]:
    db = settings.DATABASES["default"]
    forwarder = DatabaseProxy((db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)))
    try:
        yield forwarder
    finally:
        forwarder.close()


@pytest.fixture
def proxied_server(world: World, proxy: DatabaseProxy) -> Iterator[LiveServer]:
    """One server whose database connections all pass through ``proxy``. Depends on ``world``
    so it stops before the database is flushed."""
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    give_server_usable_password(world.midwife, PASSWORD)
    # The production defaults under test, whatever the test run's own pool settings (Makefile).
    server = spawn_server(
        env={
            "DATABASE_URL": proxied_database_url(proxy.port),
            "DB_POOL_TIMEOUT": "2",
            "DB_POOL_RECONNECT_TIMEOUT": "5",
            "DB_CONNECT_TIMEOUT": "2",
        }
    )
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()


# --- the database cut for real -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["blackhole", "refuse"])
def test_a_cut_database_fails_fast_and_recovers_fast(
    proxied_server: LiveServer, proxy: DatabaseProxy, mode: str
) -> None:
    server = proxied_server
    session = HttpSession()
    session.login(server, "midwife", PASSWORD)
    signed_in = {settings.SESSION_COOKIE_NAME: session.cookie(settings.SESSION_COOKIE_NAME)}
    english = {**signed_in, settings.LANGUAGE_COOKIE_NAME: "en"}
    assert timed_get(f"{server.url}/", signed_in).status == 200

    proxy.cut(mode)
    cut_at = time.monotonic()

    health = timed_get(f"{server.url}/health/")
    assert health.seconds <= HEALTH_BOUND, (health.seconds, server.log_tail())
    assert health.status == 503
    assert health.json()["database"] != "ok" and health.json()["down"] == ["database"]
    assert health.json()["redis"] == "ok"

    dutch = timed_get(f"{server.url}/", signed_in)
    assert dutch.seconds <= PAGE_BOUND, (dutch.seconds, server.log_tail())
    assert dutch.status == 503 and dutch.headers["retry-after"] == "5"
    assert '<html lang="nl">' in dutch.body and 'data-error="503"' in dutch.body

    page = timed_get(f"{server.url}/", english)
    assert page.seconds <= PAGE_BOUND, (page.seconds, server.log_tail())
    assert page.status == 503
    assert '<html lang="en">' in page.body and "Temporarily unavailable" in page.body

    api = timed_get(f"{server.url}/api/v1/regions", headers={"Authorization": "Bearer not-a-real-token"})
    assert api.seconds <= PAGE_BOUND, (api.seconds, server.log_tail())
    assert api.status == 503 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["type"].endswith("/problems/service-unavailable")

    # The outage goes on, probed like a load balancer would; every probe answers in time.
    while time.monotonic() - cut_at < OUTAGE:
        probe = timed_get(f"{server.url}/health/")
        assert probe.status == 503 and probe.seconds <= HEALTH_BOUND, (probe.seconds, probe.body)
        time.sleep(1.0)

    proxy.restore()
    back_at = time.monotonic()
    while True:
        answer = timed_get(f"{server.url}/", signed_in)
        if answer.status == 200:
            break
        assert answer.status == 503, answer.body[:500]
        assert time.monotonic() - back_at <= RECOVERY_BOUND, f"still {answer.status}:\n{server.log_tail()}"
        time.sleep(0.2)
    recovered = time.monotonic() - back_at
    assert recovered <= RECOVERY_BOUND, recovered
    assert timed_get(f"{server.url}/health/").status == 200


# --- the health endpoint ------------------------------------------------------------------------


def test_health_says_what_is_down_and_does_not_wait_for_a_hung_check(
    client: Client, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/13"
    release = threading.Event()

    def hangs() -> None:
        release.wait(10)

    monkeypatch.setattr(core_views, "check_database", lambda: None)
    monkeypatch.setattr(core_views, "check_redis", hangs)
    try:
        started = time.monotonic()
        response = client.get("/health/")
        seconds = time.monotonic() - started
    finally:
        release.set()
    assert seconds <= HEALTH_BOUND
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "redis": "timeout", "down": ["redis"]}


@pytest.mark.django_db
def test_health_is_ok_when_all_is_well(client: Client) -> None:
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["down"] == []


def test_health_names_a_failing_database(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(core_views, "check_database", fails)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["database"] == "error" and "database" in response.json()["down"]


def test_the_pool_fails_fast_and_retries_often() -> None:
    """The production defaults, read in a fresh process without the test run's own DB_* overrides."""
    import json
    import os
    import subprocess
    import sys

    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        pytest.skip("PostgreSQL settings only")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "db = settings.DATABASES['default']; "
        "print(json.dumps({'pool': db['OPTIONS']['pool'], 'connect': db['OPTIONS']['connect_timeout'], "
        "'options': db['OPTIONS']['options'], 'checks': db['CONN_HEALTH_CHECKS']}))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    db = json.loads(out.stdout.strip().splitlines()[-1])
    assert db["pool"]["timeout"] <= 2 and db["pool"]["reconnect_timeout"] <= 5
    assert db["connect"] == 2
    assert db["options"] == "-c statement_timeout=15s"
    assert db["checks"] is True


# --- the 503 answer without a live server ---------------------------------------------------------


@pytest.fixture
def database_down(client: Client, world: World, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A signed-in client whose session cannot be read: the first query of a request, in a middleware."""
    client.force_login(world.midwife)
    client.raise_request_exception = False

    def fails(self: SessionStore) -> dict[str, Any]:
        raise OperationalError("couldn't get a connection after 2.00 sec")

    monkeypatch.setattr(SessionStore, "load", fails)
    return client


@pytest.mark.django_db
def test_pages_answer_503_in_dutch_by_default(database_down: Client) -> None:
    response = database_down.get("/board/")
    body = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert '<html lang="nl">' in body and 'data-error="503"' in body
    assert 'href="/board/"' in body  # try again: the same page
    assert 'href="/"' in body  # and a way home


@pytest.mark.django_db
def test_pages_answer_503_in_english_by_the_language_cookie(database_down: Client) -> None:
    database_down.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = database_down.get("/")
    body = response.content.decode()
    assert response.status_code == 503
    assert '<html lang="en">' in body and "Temporarily unavailable" in body


@pytest.mark.django_db
def test_an_outage_is_one_warning_not_a_traceback_per_request(
    database_down: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert database_down.get("/board/").status_code == 503
    assert [r.getMessage()[:22] for r in caplog.records] == ["PostgreSQL unreachable"]
    assert not any(r.exc_info for r in caplog.records)


def test_the_api_answers_503_as_a_problem() -> None:
    request = RequestFactory().get("/api/v1/locations/")
    response = DatabaseUnavailableMiddleware(lambda r: HttpResponse()).process_exception(
        request, OperationalError("couldn't get a connection after 2.00 sec")
    )
    assert response is not None
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content) == {
        "type": f"{settings.PUBLIC_BASE_URL}/problems/service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "The database cannot be reached. Try again in a few seconds.",
        "instance": "/api/v1/locations/",
    }


def test_a_lost_connection_in_a_view_answers_503() -> None:
    request = RequestFactory().get("/board/")
    response = DatabaseUnavailableMiddleware(lambda r: HttpResponse()).process_exception(
        request, OperationalError("terminating connection due to administrator command")
    )
    assert response is not None and response.status_code == 503


def test_a_statement_timeout_stays_a_server_error() -> None:
    """Not an outage: the statement failed on a working connection (Django logs it with its traceback)."""
    error = OperationalError("canceling statement due to statement timeout")
    error.__cause__ = psycopg.errors.QueryCanceled()
    request = RequestFactory().get("/board/")
    assert DatabaseUnavailableMiddleware(lambda r: HttpResponse()).process_exception(request, error) is None


def test_other_errors_are_left_to_django() -> None:
    request = RequestFactory().get("/")
    assert DatabaseUnavailableMiddleware(lambda r: HttpResponse()).process_exception(request, ValueError()) is None


# --- the error pages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_404_in_dutch_with_a_way_home(client: Client) -> None:
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="nl">' in body and 'data-error="404"' in body and 'href="/"' in body
    assert "Not Found</h1>" not in body


@pytest.mark.django_db
def test_404_in_english(client: Client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get("/no-such-page/").content.decode()
    assert '<html lang="en">' in body and "Page not found" in body


@pytest.mark.django_db
def test_403_is_a_page_of_ours(client: Client, world: World) -> None:
    client.force_login(world.no_role)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 403
    assert 'data-error="403"' in body and "Not allowed" in body and 'href="/"' in body


def test_500_speaks_both_languages_without_a_request() -> None:
    response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert 'data-error="500"' in body
    assert 'lang="nl"' in body and "Er ging iets mis" in body
    assert 'lang="en"' in body and "Something went wrong" in body
    assert 'href="/"' in body and "/static/css/app.css" in body


def test_the_error_pages_fit_a_phone() -> None:
    body = server_error(RequestFactory().get("/")).content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert 'class="button primary"' in body  # 44 px tap target (static/css/app.css)


@pytest.mark.django_db
def test_an_unknown_api_path_answers_a_problem(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/problems/not-found")
    assert response.json()["instance"] == "/api/v1/no-such-thing/"


def test_an_api_server_error_answers_a_problem() -> None:
    request = RequestFactory().get("/api/v1/locations/")
    middleware = DatabaseUnavailableMiddleware(lambda r: HttpResponseServerError("<h1>Server Error (500)</h1>"))
    response = middleware(request)
    assert response.status_code == 500 and response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["type"].endswith("/problems/server-error")
