"""Real uvicorn processes for the tests that need a socket: a browser, or a second server.

Each server runs the project's ASGI app as production does (``uvicorn config.asgi``, see the
Makefile), against the test database pytest-django created, the same Redis and the same
``LIVE_PUSH_PREFIX`` as the test process. The servers only see committed data: use
``@pytest.mark.django_db(transaction=True)``, and stop them before that fixture flushes the
database (``running_servers`` in a fixture that depends on ``world`` does both).

Also here: a small cookie-keeping HTTP client (urllib, no extra dependency) that logs in and
posts through the real CSRF flow, and a way to wait until a server's hub has subscribed.
"""

from __future__ import annotations

import contextlib
import html
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from core.ws_protocol import UVICORN_WS_OPTIONS

BASE_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0  # seconds until /health/ must answer 200
STOP_TIMEOUT = 5.0  # seconds of graceful shutdown before the process is killed


# --- the server side -------------------------------------------------------------------------


def asgi_app() -> Any:
    """``uvicorn --factory`` entry point: the project's ASGI application, unchanged except that
    WhiteNoise serves static files from the source tree.

    With DEBUG off WhiteNoise only serves ``STATIC_ROOT``, which exists only after
    ``collectstatic`` (``make demo`` runs it, ``make test`` does not): without this the browser
    would get 404 for htmx, its ws extension and app.js.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup(set_prefix=False)
    settings.WHITENOISE_USE_FINDERS = True  # read when the middleware is built, in config.asgi
    from config.asgi import application

    return application


# --- configuration shared with the test process ------------------------------------------------


def services_missing() -> str | None:
    """Why live servers cannot run in this test session, or None when they can."""
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return "live-server tests need PostgreSQL (DATABASE_URL): another process cannot see an SQLite test database"
    if not settings.REDIS_URL:
        return "live-server tests need Redis (REDIS_URL) to carry the live push between processes"
    return None


def database_url_for_servers() -> str:
    """DATABASE_URL of the database the tests run against (pytest-django's ``test_…`` copy)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = urllib.parse.quote(db.get("USER") or "", safe="")
    password = urllib.parse.quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{urllib.parse.quote(db['NAME'], safe='')}"


def server_env() -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    # Test-process switches that must not change how the server behaves.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url_for_servers(),
        REDIS_URL=settings.REDIS_URL,
        LIVE_PUSH_PREFIX=settings.LIVE_PUSH_PREFIX,
        EMBEDDED_BEAT="false",
        PYTHONUNBUFFERED="1",
        # As the test process has it: off unless the test turned it on (tests/conftest.py).
        MFA_ENFORCED="true" if settings.MFA_ENFORCED else "false",
    )
    return env


def live_channel() -> str:
    from django.conf import settings

    return f"{settings.LIVE_PUSH_PREFIX}:events"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- starting and stopping ---------------------------------------------------------------------


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def healthy(self) -> bool:
        try:
            with _NO_PROXY.open(f"{self.url}/health/", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def begin_stop(self) -> None:
        """Ask this server (and only this process) to shut down gracefully (SIGTERM)."""
        if self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """Stop this server, gracefully first; killed if it takes longer than STOP_TIMEOUT."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def spawn_server(env: dict[str, str] | None = None) -> LiveServer:
    """``env``: variables that differ from ``server_env()`` (e.g. a DATABASE_URL through a proxy)."""
    port = free_port()
    fd, name = tempfile.mkstemp(prefix=f"uvicorn-{port}-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.live_server:asgi_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                # As in production (Procfile): bounded send buffers, explicit keepalive (docs/operations.md).
                *UVICORN_WS_OPTIONS,
                "--lifespan",
                "off",
            ],
            cwd=BASE_DIR,
            env={**server_env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return LiveServer(process=process, port=port, log_path=Path(name))


def wait_until_healthy(server: LiveServer, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server on port {server.port} exited early:\n{server.log_tail()}")
        if server.healthy():
            return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {server.port} not healthy after {timeout:.0f}s:\n{server.log_tail()}")


def start_servers(count: int) -> list[LiveServer]:
    """Start ``count`` servers side by side; each gets another try if its port was taken meanwhile."""
    servers = [spawn_server() for _ in range(count)]
    started: list[LiveServer] = []
    try:
        for server in list(servers):
            try:
                wait_until_healthy(server)
            except RuntimeError:
                server.stop()
                server = spawn_server()
                servers.append(server)  # stopped in the finally below if this one fails too
                wait_until_healthy(server)
            started.append(server)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return started


@contextlib.contextmanager
def running_servers() -> Iterator[Callable[[int], list[LiveServer]]]:
    """Yield ``start(count)``; every server it started is stopped on exit, whatever happened."""
    servers: list[LiveServer] = []

    def start(count: int = 1) -> list[LiveServer]:
        new = start_servers(count)
        servers.extend(new)
        return new

    try:
        yield start
    finally:
        for server in servers:  # shut down side by side, not one after the other
            server.begin_stop()
        for server in servers:
            server.stop()


# --- accounts ----------------------------------------------------------------------------------


def give_server_usable_password(user: Any, password: str) -> None:
    """Store ``password`` as a PBKDF2 hash the servers can check.

    tests/conftest.py's autouse ``fast_passwords`` makes every test user's hash MD5, which the
    servers (default PASSWORD_HASHERS, no MD5) reject: a login through their form would fail.
    """
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(password, hasher.salt())
    user.save(update_fields=["password"])


# --- browser tests -----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def browser_server(*users: Any, password: str = "") -> Iterator[LiveServer]:
    """One server process for a browser test, at which ``users`` can log in with ``password``.

    Skips the test when PostgreSQL/Redis or Debian's Chromium are missing.
    """
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    for user in users:
        give_server_usable_password(user, password)
    with running_servers() as start:
        (live,) = start(1)
        yield live


def browser_log_in(page: Any, server: LiveServer, username: str, password: str, next_url: str = "") -> None:
    """Log in through the (Dutch) login form, then wait until the page left it."""
    page.goto(f"{server.url}/accounts/login/" + (f"?next={next_url}" if next_url else ""))
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


PHONE_VIEWPORT: Any = {"width": 390, "height": 844}  # a ViewportSize: a common phone, portrait


@contextlib.contextmanager
def phone_browser(
    server: LiveServer, username: str, password: str, *, ignore: Callable[[str], bool] = lambda _text: False
) -> Iterator[Any]:
    """A logged-in page on a phone (390 x 844, touch, Dutch, Amsterdam time) in headless Chromium.

    On the way out it fails the test on any page error, console error (except those ``ignore``
    accepts) or 5xx response the page saw, with the server's log tail.
    Set ``DJANGO_ALLOW_ASYNC_UNSAFE`` (monkeypatch) before: Playwright runs an event loop.
    """
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not ignore(m.text) else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
            browser_log_in(page, server, username, password)
            yield page
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"


# --- an HTTP client with cookies and CSRF ------------------------------------------------------

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Response:
    status: int
    url: str
    text: str


class HttpSession:
    """Cookies kept across requests and servers (they share the database, hence the sessions)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar)
        )

    def cookie(self, name: str) -> str:
        for cookie in self.jar:
            if cookie.name == name and cookie.value is not None:
                return cookie.value
        raise KeyError(name)

    def request(self, url: str, data: dict[str, object] | None = None) -> Response:
        body = urllib.parse.urlencode({k: str(v) for k, v in data.items()}).encode() if data is not None else None
        request = urllib.request.Request(url, data=body)  # noqa: S310 - http://127.0.0.1 only
        try:
            with self.opener.open(request, timeout=10) as response:
                return Response(response.status, response.url, response.read().decode())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.url, error.read().decode(errors="replace"))

    def get(self, url: str) -> Response:
        return self.request(url)

    def post_form(self, url: str, page: Response, data: dict[str, object]) -> Response:
        """POST like a browser that submits a form of ``page``: with its CSRF token."""
        return self.request(url, {"csrfmiddlewaretoken": csrf_token(page.text), **data})

    def login(self, server: LiveServer, username: str, password: str) -> Response:
        page = self.get(f"{server.url}/accounts/login/")
        response = self.post_form(
            f"{server.url}/accounts/login/", page, {"username": username, "password": password, "next": ""}
        )
        if "/accounts/login/" in response.url:
            raise AssertionError(f"login as {username} failed ({response.status}):\n{server.log_tail()}")
        return response


def input_value(page_html: str, *, name: str | None = None, element_id: str | None = None) -> str:
    """The value of the first <input> with this name and/or id."""
    for tag in re.findall(r"<input\b[^>]*>", page_html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if (name is None or attrs.get("name") == name) and (element_id is None or attrs.get("id") == element_id):
            return html.unescape(attrs.get("value", ""))
    raise AssertionError(f"no <input name={name!r} id={element_id!r}> on the page")


def csrf_token(page_html: str) -> str:
    return input_value(page_html, name="csrfmiddlewaretoken")


# --- the live push -----------------------------------------------------------------------------


def subscriber_count() -> int:
    """How many Redis connections (one per server hub) listen to the live-push channel."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        return int(dict(client.pubsub_numsub(live_channel())).get(live_channel().encode(), 0))
    finally:
        client.close()


def wait_for_subscribers(more_than: int, timeout: float = 5.0) -> None:
    """Wait until a hub has subscribed. A server subscribes when its first board socket joins,
    asynchronously: a change published before that is not delivered (pub/sub keeps nothing)."""
    deadline = time.monotonic() + timeout
    while subscriber_count() <= more_than:
        if time.monotonic() > deadline:
            raise AssertionError(f"no new subscriber on {live_channel()} after {timeout:.0f}s")
        time.sleep(0.05)


def in_another_thread(work: Callable[[], object], timeout: float = 30.0) -> None:
    """Run ``work`` as another request would: its own thread and database connection, committed on return.

    Its exception is raised here; its connection goes back to the pool (a thread that keeps one drains it).
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=timeout)
    if failure:
        raise failure[0]
