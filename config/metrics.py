"""The Prometheus endpoint ``/metrics`` of one web process, and what it reads at scrape time.

Protected by a bearer token (``METRICS_TOKEN``, compared in constant time); a session does
not count, whoever is signed in. Unset, every request is refused: the endpoint is off.

Counters and histograms are kept as things happen (core/metrics.py). The gauges below are
read when Prometheus asks: open sockets from this process's socket registry (on the event
loop, which owns it), the Celery queue from Redis, pending refusals and stale units with one
cheap query each. A dependency that is down leaves its gauges out and sets
``birthcare_metrics_source_up{source=…}`` to 0; the scrape itself still answers.
See docs/operations.md.
"""

from __future__ import annotations

import hmac
import logging
from collections import Counter
from collections.abc import Iterator, Mapping

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from capacity.models import Unit
from core import revocation
from core.metrics import PREFIX
from refusals import aggregation

logger = logging.getLogger(__name__)

# The socket classes of every app, by the kind they are exported as (others: their class name).
SOCKET_KINDS = {
    "BoardConsumer": "board",
    "SearchConsumer": "search",
    "StatisticsConsumer": "statistics",
    "AlertsConsumer": "alerts",
    "ApiStreamConsumer": "api_websocket",
    "_EventQueue": "api_sse",
}
# Exported at 0 when none is open, so that a series does not vanish.
ALWAYS_EXPORTED_KINDS = ("board", "search", "statistics", "alerts", "api_websocket", "api_sse")
# Kombu's Redis transport keeps delivered, not yet acknowledged messages in this hash.
KOMBU_UNACKED = "unacked"


def socket_counts() -> dict[str, int]:
    """Open sockets of this process by kind (call on the event loop that serves them)."""
    sockets = {id(s): s for members in revocation.registry.sockets.values() for s in members}
    counts: Counter[str] = Counter(dict.fromkeys(ALWAYS_EXPORTED_KINDS, 0))
    for socket in sockets.values():
        name = type(socket).__name__
        counts[SOCKET_KINDS.get(name, name)] += 1
    return dict(counts)


def celery_queues() -> list[str]:
    return [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]


class StateCollector(Collector):
    """The gauges read at scrape time (runs in a worker thread: it queries the database)."""

    def __init__(self, sockets: Mapping[str, int]) -> None:
        self.sockets = sockets

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            f"{PREFIX}_metrics_source_up",
            "Whether this scrape could read the source (1) or not (0).",
            labels=["source"],
        )
        open_sockets = GaugeMetricFamily(
            f"{PREFIX}_open_sockets", "Open websockets and event streams of this process, by kind.", labels=["kind"]
        )
        for kind, count in sorted(self.sockets.items()):
            open_sockets.add_metric([kind], count)
        yield open_sockets
        try:
            yield from self._database()
            up.add_metric(["database"], 1)
        except DatabaseError as exc:
            logger.warning("metrics: database not readable: %s", exc)
            up.add_metric(["database"], 0)
        if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
            try:
                yield from self._celery()
                up.add_metric(["redis"], 1)
            except redis.RedisError as exc:
                logger.warning("metrics: Celery broker not readable: %s", exc)
                up.add_metric(["redis"], 0)
        yield up

    def _database(self) -> Iterator[GaugeMetricFamily]:
        # Read both first: nothing is yielded for a database that fails half-way.
        now = timezone.now()
        stale = Unit.objects.filter(confirmed_at__lte=now - settings.CAPACITY_STALE_AFTER).count()
        flagged = Unit.objects.filter(stale_flagged_at__isnull=False).count()
        pending = aggregation.pending().count()
        yield GaugeMetricFamily(
            f"{PREFIX}_units_stale",
            "Units whose figures are older than CAPACITY_STALE_AFTER (boards show them as out of date).",
            value=stale,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_units_stale_flagged",
            "Units the staleness beat has flagged as out of date (and pushed); below units_stale: the beat lags.",
            value=flagged,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_refusals_pending_aggregation",
            "Refusals not yet counted in the statistics at their current version (the sweep catches up).",
            value=pending,
        )

    def _celery(self) -> Iterator[GaugeMetricFamily]:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            depths = {queue: int(client.llen(queue)) for queue in celery_queues()}
            unacked = int(client.hlen(KOMBU_UNACKED))
        finally:
            client.close()
        depth = GaugeMetricFamily(
            f"{PREFIX}_celery_queue_depth", "Tasks waiting in the Celery queue (Redis LLEN).", labels=["queue"]
        )
        for queue, count in depths.items():
            depth.add_metric([queue], count)
        yield depth
        yield GaugeMetricFamily(
            f"{PREFIX}_celery_unacked", "Tasks delivered to a worker and not yet acknowledged.", value=unacked
        )


def exposition(sockets: Mapping[str, int]) -> bytes:
    """This process's instruments, then the gauges read now (both in the text format)."""
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(sockets))
    return generate_latest(REGISTRY) + generate_latest(state)


def authorised(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@login_not_required  # the bearer token is the credential; a session never counts
@require_GET
async def metrics(request: HttpRequest) -> HttpResponse:
    if not authorised(request):
        response = HttpResponse("401 Unauthorized: a bearer token (METRICS_TOKEN) is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    sockets = socket_counts()  # here, on the event loop that owns the registry
    body = await sync_to_async(exposition)(sockets)
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
