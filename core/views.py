"""The health endpoint: what a load balancer and an operator probe (docs/operations.md)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET


@login_not_required
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        checks["database"] = "error"
        healthy = False
    if settings.REDIS_URL:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
            checks["redis"] = "ok"
        except redis.RedisError:
            checks["redis"] = "error"
            healthy = False
    else:
        checks["redis"] = "not configured (embedded mode)"
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
