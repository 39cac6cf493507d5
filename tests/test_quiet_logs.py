"""Quiet logs: an outage of Redis is two warnings, not a traceback per failed call; JSON lines in production.

The outages are real: a private ``redis-server`` on a port of its own is stopped and started
again (the shared Redis is never touched), or the broker URL points at a closed port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from pytest_django import Settings

from capacity import live
from config.celery import app
from core.logs import REQUEST_ID_HEADER, RequestContextFilter, RequestIdMiddleware
from refusals import tasks
from tests.live_server import BASE_DIR, free_port

EVENT = {"location_id": 1, "groups": ["national"], "frames": {"nl": "<article></article>"}}


class PrivateRedis:
    """A throw-away redis-server on its own port, stopped and started by the test."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server is not None
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (Debian package redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def own_records(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


def test_a_redis_outage_logs_one_warning_then_a_count_of_failed_publishes(
    settings: Settings, caplog: pytest.LogCaptureFixture, private_redis: PrivateRedis
) -> None:
    settings.REDIS_URL = private_redis.url
    hub = live.Hub()
    with caplog.at_level(logging.INFO, logger="capacity.live"):
        hub.publish(EVENT)
        private_redis.stop()
        for _ in range(41):
            hub.publish(EVENT)  # never raises
        assert len(own_records(caplog, "capacity.live")) == 1  # the outage's start, at once
        time.sleep(1.1)
        private_redis.start()
        hub.publish(EVENT)
        hub.publish(EVENT)

    start, end = own_records(caplog, "capacity.live")
    assert start.levelno == end.levelno == logging.WARNING
    assert start.exc_info is None and end.exc_info is None  # no tracebacks
    assert "Redis (live push publish) unreachable" in start.getMessage()
    assert "Connection" in start.getMessage()  # the error itself, e.g. "Error 111 connecting ... refused"
    assert re.fullmatch(r"Redis \(live push publish\) back after \d+ s, 41 publishes failed", end.getMessage())
    assert not re.search(r"back after 0 s", end.getMessage())


async def test_a_lost_subscription_logs_one_warning_then_a_count_of_attempts(
    settings: Settings, caplog: pytest.LogCaptureFixture, private_redis: PrivateRedis
) -> None:
    settings.REDIS_URL = private_redis.url
    settings.LIVE_PUSH_PREFIX = f"quiet-{uuid.uuid4().hex}"
    hub = live.Hub()
    with caplog.at_level(logging.INFO, logger="capacity.live"):
        await hub.listen()
        assert hub._subscribed.is_set()
        private_redis.stop()
        # The listener notices within its 1 s poll, then retries at 0.5, 1, 2, 4 s.
        for _ in range(80):
            if not hub._subscribed.is_set():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(4)
        private_redis.start()
        for _ in range(150):  # back within the 10 s back-off cap
            if hub._subscribed.is_set():
                break
            await asyncio.sleep(0.1)
        assert hub._subscribed.is_set(), "the hub did not resubscribe"
        assert hub._listener is not None
        hub._listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hub._listener

    start, end = own_records(caplog, "capacity.live")
    assert start.exc_info is None and end.exc_info is None
    assert "Redis (live push subscription) unreachable" in start.getMessage()
    match = re.fullmatch(
        r"Redis \(live push subscription\) back after \d+ s, (\d+) reconnect attempts failed", end.getMessage()
    )
    assert match, end.getMessage()
    assert int(match.group(1)) >= 2  # several attempts, one line


@contextmanager
def broker(url: str, queue: str) -> Iterator[None]:
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=url, task_always_eager=False, task_default_queue=queue)
    app._pool = None  # type: ignore[attr-defined]  # forget pooled connections to the old URL
    app.amqp._producer_pool = None  # type: ignore[attr-defined]
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool = None  # type: ignore[attr-defined]
        app.amqp._producer_pool = None  # type: ignore[attr-defined]


def test_a_broker_outage_logs_one_warning_then_a_count_of_failed_enqueues(
    caplog: pytest.LogCaptureFixture, private_redis: PrivateRedis
) -> None:
    queue = f"test-quiet-{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO, logger="refusals.tasks"), broker(private_redis.url, queue):
        private_redis.stop()
        for refusal_id in range(1, 6):
            tasks.enqueue(refusal_id)  # never raises
        time.sleep(1.1)
        private_redis.start()
        tasks.enqueue(6)

    start, end = own_records(caplog, "refusals.tasks")
    assert start.exc_info is None and end.exc_info is None
    assert "Celery broker unreachable" in start.getMessage()
    assert "refusal 1" in start.getMessage() and "sweep will count it" in start.getMessage()
    assert re.fullmatch(r"Celery broker back after \d+ s, 5 enqueues failed", end.getMessage())
    assert redis.Redis.from_url(private_redis.url).llen(queue) == 1  # the one enqueued after the outage


# --- structured logs ---------------------------------------------------------------------------

LOG_SCRIPT = """
import logging
import django
django.setup()
from django.http import HttpResponse
from django.test import RequestFactory
from core.logs import RequestIdMiddleware

log = logging.getLogger("birthcare.check")
log.warning("outside %s", "requests")
logging.getLogger("uvicorn.error").info("connection open")
logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', "127.0.0.1:1", "/ws/board/national/")
logging.getLogger("uvicorn.error").warning("uvicorn warns")
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/", "1.1", 200)

def view(request):
    log.info("inside a request")
    return HttpResponse("ok")

response = RequestIdMiddleware(view)(RequestFactory().get("/board/", headers={"X-Request-ID": "proxy-id-1"}))
print(response["X-Request-ID"])
"""

PRODUCTION = {
    "DATABASE_URL": "postgres://nobody@127.0.0.1:1/not-connected",  # setup() does not connect
    "SECRET_KEY": "a-test-secret-key-that-is-long-enough-for-this-check-0123456789",
    "ALLOWED_HOSTS": "capaciteit.example.org",
}


def run_logging(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOG_FORMAT", "LOG_LEVEL"}}
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", LOG_SCRIPT],
        cwd=BASE_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_logs_one_json_object_a_line_with_the_request() -> None:
    result = run_logging(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "proxy-id-1"
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    outside = next(line for line in lines if line["logger"] == "birthcare.check" and "outside" in line["message"])
    inside = next(line for line in lines if line["message"] == "inside a request")
    assert outside["message"] == "outside requests"
    assert outside["level"] == "WARNING"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", outside["timestamp"])
    assert "request_id" not in outside and "path" not in outside
    assert inside["level"] == "INFO" and inside["logger"] == "birthcare.check"
    assert inside["request_id"] == "proxy-id-1" and inside["path"] == "/board/"
    # uvicorn's lines per websocket are left out (a storm of 5,000 boards wrote 10,000), not its
    # warnings or the HTTP access lines.
    uvicorn = [(line["logger"], line["message"]) for line in lines if line["logger"].startswith("uvicorn")]
    assert uvicorn == [("uvicorn.error", "uvicorn warns"), ("uvicorn.access", '127.0.0.1:1 - "GET / HTTP/1.1" 200')]


def test_log_format_text_and_the_embedded_default_are_plain_lines() -> None:
    for env in ({**PRODUCTION, "LOG_FORMAT": "text"}, {}):
        result = run_logging(**env)
        assert result.returncode == 0, result.stderr
        line = next(line for line in result.stderr.splitlines() if "outside requests" in line)
        assert not line.startswith("{")
        assert "WARNING birthcare.check: outside requests" in line


def test_an_unknown_log_format_fails_loudly() -> None:
    result = run_logging(**PRODUCTION, LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr


# --- the request id ----------------------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def collected() -> Iterator[list[logging.LogRecord]]:
    handler = Collect()
    logger = logging.getLogger("birthcare.check")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def test_a_request_without_a_sane_id_gets_a_new_one() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        logging.getLogger("birthcare.check").info("inside")
        return HttpResponse("ok")

    with collected() as records:
        response = RequestIdMiddleware(view)(
            RequestFactory().get("/units/", headers={REQUEST_ID_HEADER: "bad id\nwith newline"})
        )
        logging.getLogger("birthcare.check").info("after")
    [inside, after] = records
    assert isinstance(response, HttpResponseBase)
    assert re.fullmatch(r"[0-9a-f]{32}", response[REQUEST_ID_HEADER])
    assert (inside.__dict__["request_id"], inside.__dict__["path"]) == (response[REQUEST_ID_HEADER], "/units/")
    assert not hasattr(after, "request_id")


async def test_async_requests_carry_their_id_too() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0)
        logging.getLogger("birthcare.check").info("inside %s", request.path)
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)

    async def call(n: int) -> HttpResponseBase:
        pending = middleware(RequestFactory().get(f"/r/{n}/", headers={REQUEST_ID_HEADER: f"id-{n}"}))
        assert not isinstance(pending, HttpResponseBase)  # async all the way
        return await pending

    with collected() as records:
        responses = await asyncio.gather(*(call(n) for n in range(3)))
    assert [r[REQUEST_ID_HEADER] for r in responses] == ["id-0", "id-1", "id-2"]
    assert sorted((r.__dict__["request_id"], r.__dict__["path"]) for r in records) == [
        ("id-0", "/r/0/"),
        ("id-1", "/r/1/"),
        ("id-2", "/r/2/"),
    ]
