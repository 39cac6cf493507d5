"""The board websocket, through the whole ASGI stack (origin check, session auth) and the real Redis hub."""

from __future__ import annotations

import asyncio
import collections

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from capacity.models import BoardToken, Unit
from capacity.services import CapacityChange, unit_update_capacity
from config.asgi import application
from hospitals.models import User
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def board(path: str, user: User | None = None, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    return WebsocketCommunicator(application, path, headers=headers)


async def close_code(comm: WebsocketCommunicator) -> int:
    """A refusal: the socket is accepted, then closed with a code the client can read (not a 1006)."""
    connected, _ = await comm.connect()
    assert connected, "refused at the handshake: browsers would see 1006"
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return int(message["code"])


async def update(world_unit: Unit, by: User, available: int) -> None:
    def run() -> None:
        unit = Unit.objects.get(pk=world_unit.pk)
        unit_update_capacity(
            unit_id=unit.pk,
            by=by,
            expected_version=unit.version,
            change=CapacityChange(staffed_total=unit.staffed_total, available=available, status="open"),
        )

    await database_sync_to_async(run)()


async def test_board_gets_snapshot_then_live_rows(world: World) -> None:
    comm = await board(f"/ws/board/{world.region.code}/?lang=nl", world.midwife)
    connected, _ = await comm.connect()
    assert connected
    snapshot = await comm.receive_from(timeout=5)
    assert f'id="location-{world.location.pk}"' in snapshot and f'id="location-{world.other_location.pk}"' in snapshot
    assert f'id="location-{world.far_location.pk}"' not in snapshot  # another region
    assert "Verloskamers" in snapshot or "verloskamers" in snapshot
    await update(world.unit, world.staff, 7)
    frame = await comm.receive_from(timeout=5)
    assert f'<article id="location-{world.location.pk}"' in frame and 'hx-swap-oob="true"' in frame
    assert "<strong>7</strong>/10" in frame
    await comm.disconnect()


async def test_region_board_does_not_get_other_regions_and_national_gets_all(world: World) -> None:
    west = await board(f"/ws/board/{world.other_region.code}/", world.midwife)
    national = await board("/ws/board/national/?lang=en", world.coordinator)
    for comm in (west, national):
        assert (await comm.connect())[0]
        await comm.receive_from(timeout=5)
    await update(world.unit, world.staff, 0)
    frame = await national.receive_from(timeout=5)
    assert f'id="location-{world.location.pk}"' in frame and "Full" in frame  # English frame
    assert await west.receive_nothing(timeout=0.5)
    await west.disconnect()
    await national.disconnect()


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "org_admin", "national_admin"])
async def test_every_role_may_watch_a_board(world: World, persona: str) -> None:
    comm = await board("/ws/board/national/", world.personas()[persona])
    connected, _ = await comm.connect()
    assert connected
    await comm.disconnect()


async def test_anonymous_socket_is_closed_with_4401(world: World) -> None:
    comm = await board("/ws/board/national/")
    assert await close_code(comm) == 4401


async def test_user_without_role_is_closed_with_4403(world: World) -> None:
    comm = await board("/ws/board/national/", world.no_role)
    assert await close_code(comm) == 4403


async def test_foreign_origin_is_closed_with_4403(world: World) -> None:
    comm = await board("/ws/board/national/", world.midwife, origin=b"https://evil.example")
    assert await close_code(comm) == 4403


async def test_unknown_region_is_closed(world: World) -> None:
    comm = await board("/ws/board/atlantis/", world.midwife)
    assert await close_code(comm) == 4404


async def test_wall_screen_token_works_until_revoked(world: World) -> None:
    token, raw = await database_sync_to_async(BoardToken.issue)(
        label="Balie", region=world.region, created_by=world.coordinator
    )
    comm = await board(f"/ws/board/screen/{raw}/")
    assert (await comm.connect())[0]
    assert f'id="location-{world.location.pk}"' in await comm.receive_from(timeout=5)
    await comm.disconnect()
    await database_sync_to_async(BoardToken.objects.filter(pk=token.pk).update)(revoked_at="2026-01-01T00:00:00Z")
    comm = await board(f"/ws/board/screen/{raw}/")
    assert await close_code(comm) == 4403


async def test_many_updates_arrive_in_order_as_full_rows(world: World) -> None:
    comm = await board(f"/ws/board/{world.region.code}/", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)
    for available in (1, 2, 3):
        await update(world.unit, world.staff, available)
    frames = [await comm.receive_from(timeout=5) for _ in range(3)]
    assert [f"<strong>{n}</strong>/10" in frame for n, frame in zip((1, 2, 3), frames, strict=True)] == [True] * 3
    await comm.disconnect()


async def test_socket_ignores_what_the_client_sends(world: World) -> None:
    comm = await board("/ws/board/national/", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)
    await comm.send_to(text_data='{"available": 99}')
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()
    await asyncio.sleep(0)


async def test_board_resyncs_after_the_redis_subscription_drops(world: World, settings) -> None:
    import redis.asyncio as aioredis

    comm = await board(f"/ws/board/{world.region.code}/", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)
    # Cut the hub's subscription the way a Redis restart would.
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    ours = [c for c in await client.client_list() if c.get("name") == f"{settings.LIVE_PUSH_PREFIX}:events:hub"]
    assert len(ours) == 1
    assert await client.client_kill_filter(_id=ours[0]["id"]) == 1
    await client.aclose()
    snapshot = await comm.receive_from(timeout=10)
    assert f'id="location-{world.location.pk}"' in snapshot and f'id="location-{world.other_location.pk}"' in snapshot
    # And live pushes flow again over the new subscription.
    await update(world.unit, world.staff, 5)
    assert "<strong>5</strong>/10" in await comm.receive_from(timeout=5)
    await comm.disconnect()


async def test_hub_drops_a_socket_that_went_away_without_closing() -> None:
    from capacity import live

    class Gone:
        lang = "nl"

        def push(self, frame: str) -> None:
            raise ConnectionResetError("client vanished")

        async def resync(self) -> None: ...

    class Alive:
        lang = "nl"
        sent = 0

        def push(self, frame: str) -> None:
            self.sent += 1

        async def resync(self) -> None: ...

    hub = live.Hub()
    gone, alive = Gone(), Alive()
    hub.groups = {"national": {gone, alive}}
    event = {"groups": ["national"], "frames": {"nl": "<p>x</p>"}}
    await hub.dispatch(event)
    await hub.dispatch(event)
    assert hub.groups == {"national": {alive}} and alive.sent == 2


async def test_a_socket_that_stops_reading_is_closed_to_reconnect() -> None:
    from capacity import consumers, live

    consumer = consumers.BoardConsumer()
    closed: list[int] = []

    async def close(code: int | None = None, reason: str | None = None) -> None:
        closed.append(code or 0)

    consumer.close = close
    consumer._outbox = collections.deque()
    live.hub.groups.setdefault("national", set()).add(consumer)
    for i in range(consumers.MAX_BACKLOG):
        consumer.push(f"<p>{i}</p>")
    consumer.push("<p>one too many</p>")
    await asyncio.sleep(0)
    assert closed == [1013] and consumer not in live.hub.groups.get("national", set())
