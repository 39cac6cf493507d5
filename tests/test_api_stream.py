"""The API event stream: token auth, snapshot on connect, JSON events of the watched region only."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from pytest_django import Settings

from api.services import api_token_revoke
from capacity.models import ApiToken, Unit
from capacity.services import CapacityChange, unit_update_capacity
from config.asgi import application
from tests.api_support import org_token, region_token
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def stream(path: str, token: str | None, origin: bytes | None = None) -> WebsocketCommunicator:
    headers = []
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin:
        headers.append((b"origin", origin))
    return WebsocketCommunicator(application, path, headers=headers)


async def update(world: World, unit: Unit, available: int) -> None:
    def run() -> None:
        current = Unit.objects.get(pk=unit.pk)
        unit_update_capacity(
            unit_id=current.pk,
            by=world.staff,
            expected_version=current.version,
            change=CapacityChange(staffed_total=current.staffed_total, available=available, status="open"),
        )

    await database_sync_to_async(run)()


async def test_snapshot_then_json_events_of_the_region(world: World) -> None:
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin, ApiToken.Scope.READ)
    comm = stream(f"/api/v1/stream/?region={world.region.code}", raw)
    assert (await comm.connect())[0]
    snapshot = json.loads(await comm.receive_from(timeout=5))
    assert snapshot["type"] == "snapshot" and snapshot["region"] == "midden"
    assert {loc["slug"] for loc in snapshot["locations"]} == {"wkz", "diak"}
    await update(world, world.unit, 7)
    event = json.loads(await comm.receive_from(timeout=5))
    assert event["type"] == "location" and event["location"]["slug"] == "wkz"
    suite = next(u for u in event["location"]["units"] if u["kind"] == "delivery_suite")
    assert (suite["available"], suite["version"]) == (7, 2)
    await update(world, world.far_unit, 1)  # another region: nothing arrives
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()


async def test_national_stream_gets_every_region_and_boards_stay_html(world: World) -> None:
    from tests.test_consumers import board

    raw = await database_sync_to_async(region_token)(world.region, world.coordinator)
    comm = stream("/api/v1/stream/", raw)
    page = await board("/ws/board/national/?lang=en", world.coordinator)
    for socket in (comm, page):
        assert (await socket.connect())[0]
    assert len(json.loads(await comm.receive_from(timeout=5))["locations"]) == 3
    await page.receive_from(timeout=5)
    await update(world, world.far_unit, 1)
    event = json.loads(await comm.receive_from(timeout=5))
    assert event["location"]["slug"] == "lumc"
    row = await page.receive_from(timeout=5)
    assert row.lstrip().startswith("<") and f'id="location-{world.far_location.pk}"' in row
    await comm.disconnect()
    await page.disconnect()


@pytest.mark.parametrize("token", ["none", "unknown", "revoked"])
async def test_without_a_valid_token_the_socket_is_closed(world: World, token: str) -> None:
    raw = None
    if token == "unknown":
        raw = "bcap_unknown"
    elif token == "revoked":

        def revoked() -> str:
            secret = org_token(world.hospital, world.org_admin)
            api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)
            return secret

        raw = await database_sync_to_async(revoked)()
    comm = stream("/api/v1/stream/?region=midden", raw)
    await comm.connect()
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_unknown_region_is_closed_with_4404(world: World) -> None:
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    comm = stream("/api/v1/stream/?region=nowhere", raw)
    await comm.connect()
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4404}


async def test_a_session_cookie_is_not_enough(world: World) -> None:
    from tests.test_consumers import session_cookie

    cookie = await database_sync_to_async(session_cookie)(world.staff)
    comm = WebsocketCommunicator(
        application, "/api/v1/stream/", headers=[(b"cookie", cookie), (b"origin", b"http://testserver")]
    )
    await comm.connect()
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_revoking_the_token_closes_an_open_stream_at_once(world: World) -> None:
    # No polling involved (RECHECK_SECONDS is 60): the revocation event closes it.
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    comm = stream("/api/v1/stream/?region=midden", raw)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)

    def revoke() -> None:
        api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)

    await database_sync_to_async(revoke)()
    assert (await comm.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4401}


async def test_connecting_counts_against_the_rate_limit(world: World, settings: Settings) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    first = stream("/api/v1/stream/", raw)
    assert (await first.connect())[0]
    await first.receive_from(timeout=5)
    second = stream("/api/v1/stream/", raw)
    await second.connect()
    assert (await second.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4429}
    await first.disconnect()


async def test_an_api_write_reaches_open_boards_and_streams(world: World) -> None:
    """The whole path: a hospital system's PUT shows up on a midwife's board and on an API stream."""
    from tests.api_support import Api
    from tests.test_consumers import board

    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    page = await board(f"/ws/board/{world.region.code}/?lang=nl", world.midwife)
    follower = stream(f"/api/v1/stream/?region={world.region.code}", raw)
    for socket in (page, follower):
        assert (await socket.connect())[0]
        await socket.receive_from(timeout=5)

    def put() -> int:
        body = {"staffed_total": 10, "available": 6, "status": "open", "version": 1}
        return int(Api(raw).put(f"/units/{world.unit.pk}", body).status_code)

    assert await database_sync_to_async(put)() == 200
    row = await page.receive_from(timeout=5)
    assert f'id="location-{world.location.pk}"' in row and "<strong>6</strong>/10" in row
    event = json.loads(await follower.receive_from(timeout=5))
    assert next(u for u in event["location"]["units"] if u["kind"] == "delivery_suite")["available"] == 6
    await page.disconnect()
    await follower.disconnect()
