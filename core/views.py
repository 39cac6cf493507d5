"""The health endpoint: what a load balancer and an operator probe (docs/operations.md).

It answers within ``HEALTH_TIMEOUT`` whatever is down: each dependency is checked in a thread of
its own with a short timeout of its own, and a check that has not answered by then counts as down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

# Seconds for the whole answer: load balancers commonly give a probe 2 s (HAProxy's default
# `timeout check` is the connect timeout); the checks' own timeouts stay below it.
HEALTH_TIMEOUT = 1.5
DATABASE_TIMEOUT = 1.0  # waiting for a pooled connection
REDIS_TIMEOUT = 1.0  # connect and reply

# A few threads shared by all probes; a check stuck on a dead peer ends at its own timeout.
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


def check_database() -> None:
    """One round trip through the same pool the pages use, so "ok" means pages can be served."""
    pool = getattr(connection, "pool", None)
    if pool is None:  # SQLite (embedded) or PostgreSQL without the pool
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connection.close()
        return
    pool.open()
    with pool.connection(timeout=DATABASE_TIMEOUT) as conn:
        conn.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


@login_not_required
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    deadline = time.monotonic() + HEALTH_TIMEOUT
    running: dict[str, Future[None]] = {name: _checks.submit(check) for name, check in checks.items()}
    results: dict[str, str] = {}
    for name, future in running.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            results[name] = "ok"
        except FutureTimeout:
            results[name] = "timeout"
        except Exception:  # noqa: BLE001 - a health check reports, it does not raise
            results[name] = "error"
    if not settings.REDIS_URL:
        results["redis"] = "not configured (embedded mode)"
    down = [name for name in checks if results[name] != "ok"]
    body = {"status": "error" if down else "ok", **results, "down": down}
    response = JsonResponse(body, status=503 if down else 200)
    response["Cache-Control"] = "no-store"
    return response
