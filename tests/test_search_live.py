"""The search result list updates live: its socket hears of changes to its locations only (real Redis hub)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
from config.asgi import application
from hospitals.models import User
from search.selectors import live_fingerprint
from tests.conftest import World
from tests.search_world import make_postcodes
from tests.test_consumers import close_code

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def socket(query: str, user: User | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    return WebsocketCommunicator(application, f"/ws/search/?{query}", headers=headers)


async def update(unit_id: int, by: User, **fields: object) -> None:
    def run() -> None:
        unit = Unit.objects.get(pk=unit_id)
        values: dict[str, Any] = {
            "staffed_total": unit.staffed_total,
            "available": unit.available,
            "status": "open",
            **fields,
        }
        unit_update_capacity(
            unit_id=unit.pk,
            by=by,
            expected_version=unit.version,
            change=CapacityChange(**values),
        )

    await database_sync_to_async(run)()


async def test_result_socket_hears_its_locations_and_no_others(world: World) -> None:
    ids = sorted([world.location.pk, world.other_location.pk])
    comm = await socket(f"locations={ids[0]},{ids[1]}", world.midwife)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    assert hello == {"type": "hello", "fingerprint": await database_sync_to_async(live_fingerprint)(ids)}

    await update(world.far_unit.pk, world.staff, available=0)  # a location not in the result
    assert await comm.receive_nothing(timeout=0.5)

    await update(world.unit.pk, world.staff, available=0)
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    await comm.disconnect()


async def test_the_list_fetched_after_a_push_shows_the_change_and_the_new_order(world: World) -> None:
    await database_sync_to_async(make_postcodes)()
    client = Client()
    await database_sync_to_async(client.force_login)(world.midwife)
    query = {"where": "3584", "care": "overdracht"}
    results = reverse("search:search_results")

    def fetch() -> str:
        return client.get(results, query).content.decode()

    before = await database_sync_to_async(fetch)()
    # WKZ (nearest to 3584) is listed before the Diakonessenhuis, both have room.
    assert before.index(f'id="result-{world.location.pk}"') < before.index(f'id="result-{world.other_location.pk}"')
    comm = await socket(f"locations={world.location.pk},{world.other_location.pk}", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)

    await update(world.unit.pk, world.staff, available=0, status="stop", stop_reason="staff")
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    after = await database_sync_to_async(fetch)()
    # WKZ is the nearest: it stays first, now marked as in stop; nothing hidden.
    wkz, diak = after.index(f'id="result-{world.location.pk}"'), after.index(f'id="result-{world.other_location.pk}"')
    assert wkz < diak
    card = after[wkz:diak]
    assert 'data-state="stop"' in card and "Opnamestop" in card and 'data-state="stop"' not in before
    await comm.disconnect()


async def test_a_change_missed_before_connecting_shows_in_the_hello_fingerprint(world: World) -> None:
    ids = [world.location.pk]
    rendered = await database_sync_to_async(live_fingerprint)(ids)  # what the page was rendered with
    await update(world.unit.pk, world.staff, available=1)  # no socket yet: no push reaches the page
    comm = await socket(f"locations={ids[0]}", world.midwife)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    assert hello["type"] == "hello" and hello["fingerprint"] != rendered
    await comm.disconnect()


async def test_a_burst_of_changes_gives_at_most_one_notice_per_send(world: World) -> None:
    comm = await socket(f"locations={world.location.pk}", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)
    await update(world.unit.pk, world.staff, available=3)
    await update(world.nicu.pk, world.staff, available=1)
    notices = [json.loads(await comm.receive_from(timeout=5))]
    while not await comm.receive_nothing(timeout=0.5):
        notices.append(json.loads(await comm.receive_from(timeout=1)))
    assert 1 <= len(notices) <= 2 and all(n == {"type": "changed"} for n in notices)
    await comm.disconnect()


@pytest.mark.parametrize("persona", ["midwife", "coordinator", "org_admin", "national_admin"])
async def test_searchers_may_follow_a_result(world: World, persona: str) -> None:
    comm = await socket(f"locations={world.location.pk}", world.personas()[persona])
    assert (await comm.connect())[0]
    await comm.disconnect()


@pytest.mark.parametrize("persona", ["staff", "other_staff", "no_role"])
async def test_others_are_refused(world: World, persona: str) -> None:
    comm = await socket(f"locations={world.location.pk}", world.personas()[persona])
    assert await close_code(comm) == 4403


async def test_anonymous_is_told_to_log_in(world: World) -> None:
    comm = await socket(f"locations={world.location.pk}", None)
    assert await close_code(comm) == 4401


@pytest.mark.parametrize(
    "query", ["", "locations=", "locations=1,x", "locations=-1", "locations=" + ",".join(["1"] * 201)]
)
async def test_a_malformed_location_list_is_refused(world: World, query: str) -> None:
    comm = await socket(query, world.midwife)
    assert await close_code(comm) == 4400
