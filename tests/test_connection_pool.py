"""The redis-py asyncio pool trap (shared/realtime.md): hundreds of boards on one process.

redis-py 8's asyncio pool holds at most 100 connections by default and raises
``MaxConnectionsError`` at once instead of waiting, so the 101st concurrent user of a
pool fails. These tests run against the real Redis of the test run (``REDIS_URL``):

* 300 authenticated board websockets on one process all connect, get their
  snapshot, and all receive the row of one capacity update (the hub's single
  subscription, capacity/live.py);
* the configured channel layer really serves 300 concurrent blocking receives
  (each holds one pooled connection), which the default pool of 100 cannot;
* the configured pool size leaves room for thousands of boards.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from capacity import live
from capacity.services import CapacityChange, unit_update_capacity
from tests.conftest import World

SOCKETS = 300
TIMEOUT = 30.0

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs the real Redis (REDIS_URL)")


def _layer_config() -> dict[str, object]:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"]


def test_channel_layer_pool_leaves_room_for_thousands_of_boards() -> None:
    layer = settings.CHANNEL_LAYERS["default"]
    assert layer["BACKEND"].startswith("channels_redis.")
    hosts = _layer_config()["hosts"]
    assert isinstance(hosts, list) and hosts
    for host in hosts:
        assert isinstance(host, dict), "a bare URL host gets redis-py's default pool of 100"
        assert host.get("max_connections", 0) >= 5000


@pytest.fixture
def midwife_cookie(world: World) -> bytes:
    client = Client()
    client.force_login(world.midwife)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _wait_for_subscriber(channel: str, deadline: float) -> None:
    """The hub subscribes in a background task: publishing before that would be lost."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        while time.monotonic() < deadline:
            if dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1:
                return
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError(f"the hub never subscribed to {channel}")


@pytest.mark.django_db(transaction=True)
async def test_hundreds_of_boards_connect_and_all_receive_one_update(world: World, midwife_cookie: bytes) -> None:
    from config.asgi import application

    deadline = time.monotonic() + 50
    headers = [(b"cookie", midwife_cookie), (b"origin", b"http://testserver")]
    communicators = [
        WebsocketCommunicator(application, f"/ws/board/{world.region.code}/?lang=nl", headers=headers)
        for _ in range(SOCKETS)
    ]
    try:
        results = await asyncio.gather(*(c.connect(timeout=TIMEOUT) for c in communicators))
        refused = [code for connected, code in results if not connected]
        assert not refused, f"{len(refused)} of {SOCKETS} boards refused: {refused[:5]}"
        snapshots = await asyncio.gather(*(c.receive_from(timeout=TIMEOUT) for c in communicators))
        for frame in snapshots:
            assert f'id="location-{world.location.pk}"' in frame
            assert f'id="location-{world.other_location.pk}"' in frame
            assert f'id="location-{world.far_location.pk}"' not in frame  # another region
        assert live.hub.connection_count() == SOCKETS

        await database_sync_to_async(_wait_for_subscriber)(live.hub.channel, deadline)
        marker = f"pool-{uuid.uuid4().hex[:8]}"
        await database_sync_to_async(unit_update_capacity)(
            unit_id=world.unit.pk,
            by=world.staff,
            change=CapacityChange(staffed_total=10, available=7, status="open", note=marker),
            expected_version=world.unit.version,
        )
        frames = await asyncio.gather(*(c.receive_from(timeout=TIMEOUT) for c in communicators))
        for frame in frames:
            assert frame.lstrip().startswith(f'<article id="location-{world.location.pk}"')
            assert 'hx-swap-oob="true"' in frame
            assert marker in frame and "<strong>7</strong>/10" in frame
        assert all([await c.receive_nothing(timeout=0.01) for c in communicators[:10]])
    finally:
        await asyncio.gather(*(c.disconnect() for c in communicators), return_exceptions=True)
        # The executor thread keeps its database connection; close it so the test database can be dropped.
        await database_sync_to_async(connections.close_all)()
    assert live.hub.connection_count() == 0


async def test_channel_layer_serves_hundreds_of_concurrent_blocking_receives() -> None:
    """Each blocking receive holds one pooled connection: 300 at once overflow the default pool of 100."""
    from channels_redis.core import RedisChannelLayer

    config = {**_layer_config(), "prefix": f"{settings.LIVE_PUSH_PREFIX}-pool-{uuid.uuid4().hex[:8]}"}
    layer = RedisChannelLayer(**config)
    channels = [f"board-pool-test-{i}" for i in range(SOCKETS)]
    receivers: list[asyncio.Future[dict[str, object]]] = []
    try:
        receivers += [asyncio.ensure_future(layer.receive(name)) for name in channels]
        await asyncio.sleep(0.5)  # let every receive take its connection and block in Redis
        failed = [task.exception() for task in receivers if task.done()]
        assert not failed, f"{len(failed)} receives failed at once: {failed[:3]}"
        await asyncio.gather(*(layer.send(name, {"type": "ping", "n": i}) for i, name in enumerate(channels)))
        messages = await asyncio.wait_for(asyncio.gather(*receivers), timeout=TIMEOUT)
        assert [m["n"] for m in messages] == list(range(SOCKETS))
    finally:
        for task in receivers:
            task.cancel()
        await asyncio.gather(*receivers, return_exceptions=True)
        await layer.flush()
        await layer.close_pools()
