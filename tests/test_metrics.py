"""The Prometheus endpoint /metrics (config/metrics.py) and the instruments it exports (core/metrics.py)."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import AsyncClient, Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pytest_django import Settings

from capacity import staleness
from capacity.consumers import MAX_BACKLOG, BoardConsumer
from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
from config import metrics as metrics_view
from hospitals.models import User
from refusals import aggregation
from refusals.models import Refusal
from tests.conftest import World

TOKEN = "metrics-test-token-0123456789abcdef-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def metrics_token(settings: Settings) -> None:
    settings.METRICS_TOKEN = TOKEN


def parse(body: bytes) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(client: Client | None = None) -> Samples:
    response = (client or Client()).get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.content
    return parse(response.content)


def value(name: str, **labels: str) -> float:
    """A sample of this process's instruments now (0 when not yet observed)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- who may scrape ------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_token_it_is_401() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"birthcare_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", TOKEN],
)
def test_a_wrong_token_is_401(header: str) -> None:
    assert Client().get("/metrics", headers={"authorization": header}).status_code == 401


def test_a_session_alone_is_not_enough_even_for_a_national_administrator(world: World) -> None:
    client = Client()
    client.force_login(world.national_admin)
    assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_with_the_token_it_is_200_in_the_prometheus_text_format() -> None:
    response = Client().get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_unset_token_turns_the_endpoint_off(settings: Settings) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"authorization": "Bearer "}).status_code == 401
    assert Client().get("/metrics", headers=AUTH).status_code == 401


@pytest.mark.django_db
def test_only_get_is_served() -> None:
    assert Client().post("/metrics", headers=AUTH).status_code == 405


def test_a_short_token_stops_the_process_at_start_up() -> None:
    env = {**os.environ, "METRICS_TOKEN": "too-short", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "METRICS_TOKEN must be at least 32 characters" in result.stderr


# --- every metric is there -------------------------------------------------------------------

EXPECTED = [
    "birthcare_open_sockets",
    "birthcare_push_request_to_published_seconds_count",
    "birthcare_push_published_to_sent_seconds_count",
    "birthcare_push_frames_dropped_total",
    "birthcare_push_sockets_closed_slow_total",
    "birthcare_snapshot_renders_total",
    "birthcare_snapshot_cache_hits_total",
    "birthcare_celery_queue_depth",
    "birthcare_celery_unacked",
    "birthcare_refusals_pending_aggregation",
    "birthcare_units_stale",
    "birthcare_units_stale_flagged",
    "birthcare_metrics_source_up",
    "process_resident_memory_bytes",
]


@pytest.mark.django_db
def test_every_listed_metric_is_exported() -> None:
    names = {name for name, _labels in scrape()}
    assert [name for name in EXPECTED if name not in names] == []
    samples = scrape()
    assert samples[("birthcare_open_sockets", (("kind", "board"),))] >= 0
    assert samples[("birthcare_metrics_source_up", (("source", "database"),))] == 1
    assert samples[("birthcare_metrics_source_up", (("source", "redis"),))] == 1


# --- the gauges read at scrape time move -------------------------------------------------


def test_a_stale_unit_shows_in_the_gauge_and_the_flag_once_the_beat_ran(world: World) -> None:
    before = scrape()
    assert before[("birthcare_units_stale", ())] == 0
    assert before[("birthcare_units_stale_flagged", ())] == 0
    old = timezone.now() - settings.CAPACITY_STALE_AFTER - timedelta(minutes=1)
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=old)
    after = scrape()
    assert after[("birthcare_units_stale", ())] == 1
    assert after[("birthcare_units_stale_flagged", ())] == 0  # the beat has not run: an alert can tell
    staleness.run()
    assert scrape()[("birthcare_units_stale_flagged", ())] == 1


def test_a_refusal_pending_aggregation_shows_until_it_is_counted(world: World) -> None:
    assert scrape()[("birthcare_refusals_pending_aggregation", ())] == 0
    refusal = Refusal.objects.create(  # written without the service: nothing enqueued, so it stays pending
        location=world.location,
        region=world.region,
        care_type="overdracht",
        reason="no_delivery_room",
        outcome="home",
        registered_by=world.midwife,
    )
    assert scrape()[("birthcare_refusals_pending_aggregation", ())] == 1
    aggregation.aggregate(refusal.pk)
    assert scrape()[("birthcare_refusals_pending_aggregation", ())] == 0


@pytest.fixture
def private_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, redis.Redis]]:
    """A Celery queue name of this test only, in the broker's Redis (other tests enqueue to the real one)."""
    name = f"metrics-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(metrics_view, "celery_queues", lambda: [name])
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        yield name, client
    finally:
        client.delete(name)
        client.close()


@pytest.mark.django_db
def test_celery_queue_depth_is_read_from_redis(private_queue: tuple[str, redis.Redis]) -> None:
    name, client = private_queue
    assert scrape()[("birthcare_celery_queue_depth", (("queue", name),))] == 0
    client.lpush(name, "a", "b", "c")
    assert scrape()[("birthcare_celery_queue_depth", (("queue", name),))] == 3


@pytest.mark.django_db
def test_an_unreachable_redis_leaves_its_gauges_out_and_the_scrape_answers(settings: Settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    samples = scrape()
    assert samples[("birthcare_metrics_source_up", (("source", "redis"),))] == 0
    assert not any(name == "birthcare_celery_queue_depth" for name, _labels in samples)
    assert samples[("birthcare_units_stale", ())] == 0


# --- request → published --------------------------------------------------------------------


def post_update(world: World, available: int) -> int:
    client = Client()
    client.force_login(world.staff)
    unit = Unit.objects.get(pk=world.unit.pk)
    data = {
        "version": unit.version,
        "available": available,
        "staffed_total": unit.staffed_total,
        "status": unit.status,
        "stop_reason": "",
        "stop_expected_end": "",
        "note": "",
    }
    return client.post(f"/units/{unit.pk}/", data, headers={"hx-request": "true"}).status_code


@pytest.mark.django_db(transaction=True)
def test_a_write_through_a_request_observes_request_to_published(world: World) -> None:
    count = value("birthcare_push_request_to_published_seconds_count")
    total = value("birthcare_push_request_to_published_seconds_sum")
    assert post_update(world, 3) == 200
    assert value("birthcare_push_request_to_published_seconds_count") == count + 1
    took = value("birthcare_push_request_to_published_seconds_sum") - total
    assert 0 < took < 5.0  # the bound is generous: a shared 2-core machine
    assert scrape()[("birthcare_push_request_to_published_seconds_count", ())] == count + 1


@pytest.mark.django_db(transaction=True)
def test_a_write_outside_a_request_is_not_observed(world: World) -> None:
    """The staleness beat and Celery tasks publish too; they have no request to count from."""
    count = value("birthcare_push_request_to_published_seconds_count")
    unit = Unit.objects.get(pk=world.unit.pk)
    unit_update_capacity(
        unit_id=unit.pk,
        by=world.staff,
        expected_version=unit.version,
        change=CapacityChange(staffed_total=unit.staffed_total, available=2, status="open"),
    )
    assert value("birthcare_push_request_to_published_seconds_count") == count


# --- sockets, published → sent, snapshots -------------------------------------------------------


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_board(world: World, path: str) -> WebsocketCommunicator:
    from config.asgi import application

    cookie = await database_sync_to_async(session_cookie)(world.midwife)
    comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://testserver"), (b"cookie", cookie)])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def async_scrape() -> Samples:
    """Through the ASGI handler on this event loop: the one that owns the sockets, as in production."""
    response = await AsyncClient().get("/metrics", headers=AUTH)
    assert response.status_code == 200
    return parse(response.content)


def board_sockets(samples: Samples) -> float:
    return samples[("birthcare_open_sockets", (("kind", "board"),))]


@pytest.mark.django_db(transaction=True)
async def test_an_open_board_socket_counts_until_it_closes(world: World) -> None:
    before = board_sockets(await async_scrape())
    comm = await open_board(world, f"/ws/board/{world.region.code}/?lang=en")
    await comm.receive_from(timeout=5)  # the snapshot: the socket is registered
    assert board_sockets(await async_scrape()) == before + 1
    await comm.disconnect()
    for _ in range(50):  # the registry forgets it as the consumer ends
        if board_sockets(await async_scrape()) == before:
            break
        await asyncio.sleep(0.05)
    assert board_sockets(await async_scrape()) == before


@pytest.mark.django_db(transaction=True)
async def test_a_pushed_frame_observes_published_to_sent_and_snapshots_count(world: World) -> None:
    renders = value("birthcare_snapshot_renders_total")
    hits = value("birthcare_snapshot_cache_hits_total")
    sent = value("birthcare_push_published_to_sent_seconds_count")
    first = await open_board(world, f"/ws/board/{world.region.code}/?lang=en")
    await first.receive_from(timeout=5)
    second = await open_board(world, f"/ws/board/{world.region.code}/?lang=en")
    await second.receive_from(timeout=5)
    assert value("birthcare_snapshot_renders_total") == renders + 1  # the second came from the cache
    assert value("birthcare_snapshot_cache_hits_total") == hits + 1
    assert value("birthcare_push_published_to_sent_seconds_count") == sent  # snapshots are not pushes

    def write() -> None:
        unit = Unit.objects.get(pk=world.unit.pk)
        unit_update_capacity(
            unit_id=unit.pk,
            by=world.staff,
            expected_version=unit.version,
            change=CapacityChange(staffed_total=unit.staffed_total, available=1, status="open"),
        )

    await database_sync_to_async(write)()
    for comm in (first, second):
        assert f'id="location-{world.location.pk}"' in await comm.receive_from(timeout=5)
    for _ in range(20):  # observed right after the server's send returns
        if value("birthcare_push_published_to_sent_seconds_count") == sent + 2:
            break
        await asyncio.sleep(0.05)
    assert value("birthcare_push_published_to_sent_seconds_count") == sent + 2
    assert 0 <= value("birthcare_push_published_to_sent_seconds_sum") < 10.0  # generous: a shared machine
    samples = await async_scrape()
    assert samples[("birthcare_push_published_to_sent_seconds_count", ())] == sent + 2
    for comm in (first, second):
        await comm.disconnect()


async def test_a_socket_closed_for_slowness_counts_it_and_its_dropped_frames() -> None:
    closed = value("birthcare_push_sockets_closed_slow_total")
    dropped = value("birthcare_push_frames_dropped_total", reason="slow")
    consumer = BoardConsumer()
    consumer._outbox = collections.deque(["<article>row</article>"] * MAX_BACKLOG)
    consumer._outbox_size = 0
    with mock.patch.object(consumer, "close", mock.AsyncMock()) as close:
        consumer.push("<article>one more</article>")
        await asyncio.sleep(0)
    close.assert_awaited_once_with(code=1013)
    assert value("birthcare_push_sockets_closed_slow_total") == closed + 1
    assert value("birthcare_push_frames_dropped_total", reason="slow") == dropped + MAX_BACKLOG + 1


def production_redirect_exemptions() -> list[str]:
    """SECURE_REDIRECT_EXEMPT as the settings build it behind https (the tests run without)."""
    env = {**os.environ, "BEHIND_HTTPS": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, django; django.setup(); from django.conf import settings; "
            "print(json.dumps(settings.SECURE_REDIRECT_EXEMPT))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    exempt: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return exempt


@pytest.mark.django_db
def test_plain_http_scrapes_are_not_redirected_to_https(settings: Settings) -> None:
    """Prometheus reaches each process's own port, which speaks no TLS (the proxy terminates it)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = production_redirect_exemptions()
    assert Client().get("/accounts/login/").status_code == 301  # everything else is redirected
    assert Client().get("/metrics", headers=AUTH).status_code == 200
