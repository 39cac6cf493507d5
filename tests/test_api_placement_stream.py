"""Placement requests on the API event stream: answer-requests tokens of the asked organisation only,
a snapshot of the open ones on connect, then each change as the request's full state."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from capacity.models import ApiToken
from hospitals.models import AccessLog
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_send, placement_transition
from tests.api_support import org_token, region_token
from tests.conftest import World
from tests.test_api_events import Sse
from tests.test_api_stream import stream

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = ApiToken.Scope.ANSWER_REQUESTS


async def send(world: World, location_id: int | None = None) -> PlacementRequest:
    data = PlacementInput(
        location_id=location_id or world.location.pk,
        care_type="overdracht",
        urgency="urgent",
        expected_arrival=timezone.now() + timedelta(minutes=30),
        callback_phone="06 1234 5678",
        gestational_weeks=34,
    )
    return await database_sync_to_async(lambda: placement_send(by=world.midwife, data=data))()


async def token(world: World, scope: str = ANSWER, organisation: Any = None) -> str:
    return await database_sync_to_async(org_token)(organisation or world.hospital, world.org_admin, scope)


async def next_request_event(comm: Any) -> dict[str, Any]:
    """The next request event (capacity events of the same stream may come in between)."""
    for _ in range(10):
        event = json.loads(await comm.receive_from(timeout=5))
        if event["type"] == "request":
            return dict(event)
    raise AssertionError("no request event")


async def test_snapshot_lists_open_requests_then_each_change_arrives_in_full(world: World) -> None:
    waiting = await send(world)
    await send(world, world.other_location.pk)  # another organisation's location: never shown
    comm = stream(f"/api/v1/stream/?region={world.region.code}", await token(world))
    assert (await comm.connect())[0]
    snapshot = json.loads(await comm.receive_from(timeout=5))
    assert snapshot["type"] == "snapshot"
    assert [(r["id"], r["state"], r["callback_phone"]) for r in snapshot["requests"]] == [
        (waiting.pk, "sent", "+31612345678")
    ]
    fresh = await send(world)
    event = await next_request_event(comm)
    assert (event["request"]["id"], event["request"]["state"], event["request"]["version"]) == (fresh.pk, "sent", 1)
    assert event["request"]["midwife_organisation"] == "Praktijk De Bilt"
    await database_sync_to_async(placement_transition)(request_id=fresh.pk, to="accepted", by=world.staff)
    event = await next_request_event(comm)
    # The full state, never a delta: everything a client needs to replace what it had.
    assert (event["request"]["id"], event["request"]["state"], event["request"]["version"]) == (
        fresh.pk,
        "accepted",
        2,
    )
    assert event["request"]["answered_at"] and event["request"]["deadline"] and event["request"]["care_type"]
    await comm.disconnect()
    logged = await database_sync_to_async(
        lambda: AccessLog.objects.filter(what="placement requests (API stream)").count()
    )()
    assert logged == 1


async def test_other_organisations_and_other_scopes_see_no_request(world: World) -> None:
    mine = stream(f"/api/v1/stream/?region={world.region.code}", await token(world))
    others = {
        "another organisation": stream(
            f"/api/v1/stream/?region={world.region.code}",
            await token(world, organisation=world.other_location.organisation),
        ),
        "read token of the same organisation": stream(
            f"/api/v1/stream/?region={world.region.code}", await token(world, ApiToken.Scope.READ)
        ),
        "write token of the same organisation": stream("/api/v1/stream/", await token(world, "write-capacity")),
        "coordinator's region token": stream(
            f"/api/v1/stream/?region={world.region.code}",
            await database_sync_to_async(region_token)(world.region, world.coordinator),
        ),
        "the organisation's token watching another region": stream(
            f"/api/v1/stream/?region={world.other_region.code}", await token(world)
        ),
    }
    for comm in (mine, *others.values()):
        assert (await comm.connect())[0]
    snapshots = {name: json.loads(await comm.receive_from(timeout=5)) for name, comm in others.items()}
    await mine.receive_from(timeout=5)
    for name in ("read token of the same organisation", "write token of the same organisation",
                 "coordinator's region token"):  # fmt: skip
        assert "requests" not in snapshots[name], name
    assert snapshots["another organisation"]["requests"] == []
    request = await send(world)
    assert (await next_request_event(mine))["request"]["id"] == request.pk
    for name, comm in others.items():
        assert await comm.receive_nothing(timeout=0.3), name
    for comm in (mine, *others.values()):
        await comm.disconnect()


async def test_the_national_stream_of_the_organisation_gets_its_requests(world: World) -> None:
    comm = stream("/api/v1/stream/", await token(world))
    assert (await comm.connect())[0]
    assert json.loads(await comm.receive_from(timeout=5))["requests"] == []
    request = await send(world)
    assert (await next_request_event(comm))["request"]["id"] == request.pk
    await comm.disconnect()


async def test_server_sent_events_carry_requests_too(world: World) -> None:
    waiting = await send(world)
    sse = Sse("/api/v1/events/", f"region={world.region.code}", await token(world))
    assert (await sse.start())["status"] == 200
    snapshot = await sse.event()
    assert [r["id"] for r in snapshot["requests"]] == [waiting.pk]
    await database_sync_to_async(placement_transition)(request_id=waiting.pk, to="seen", by=world.staff)
    event = await sse.event()
    while event["type"] != "request":
        event = await sse.event()
    assert (event["request"]["id"], event["request"]["state"]) == (waiting.pk, "seen")
    await sse.close()
