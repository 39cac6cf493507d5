"""placements/consumers.py: the desk and the midwife's phone get every change pushed after commit,
a snapshot on (re)connect, and nobody else may listen (docs/requests.md, "Live")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from hospitals.models import User
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_expire_due, placement_send, placement_transition
from refusals.models import Alert
from tests.conftest import World
from tests.test_consumers import board as socket
from tests.test_consumers import close_code

pytestmark = pytest.mark.django_db(transaction=True)
State = PlacementRequest.State


def send(world: World, urgency: str = "immediate") -> PlacementRequest:
    return placement_send(
        by=world.midwife,
        data=PlacementInput(
            location_id=world.location.pk,
            care_type="overdracht",
            urgency=urgency,
            expected_arrival=timezone.now() + timedelta(minutes=20),
            callback_phone="06 1234 5678",
            gestational_weeks=36,
        ),
    )


async def test_a_sent_request_appears_on_the_desk_at_once(world: World) -> None:
    desk = await socket("/ws/requests/desk/?lang=en", world.staff)
    assert (await desk.connect())[0]
    snapshot = await desk.receive_from(timeout=5)  # the desk as it is: empty
    assert f'id="desk-location-{world.location.pk}"' in snapshot and "req-" not in snapshot.split("desk-location")[1]
    request = await database_sync_to_async(send)(world)
    frame = await desk.receive_from(timeout=5)
    assert f'id="req-{request.pk}"' in frame and 'hx-swap-oob="true"' in frame
    assert 'data-alarm="1"' in frame  # not seen yet: the desk sounds
    assert "Immediate" in frame or "immediate" in frame
    assert 'href="tel:+31612345678"' in frame  # call the midwife back, one tap
    await desk.disconnect()


async def test_the_midwife_sees_the_answer_without_reloading(world: World) -> None:
    request = await database_sync_to_async(send)(world)
    other = await database_sync_to_async(send)(world)  # another client's request: another ask
    page = await socket(f"/ws/requests/mine/?lang=en&ask={request.ask}", world.midwife)
    listing = await socket("/ws/requests/mine/?lang=en", world.midwife)
    assert (await page.connect())[0] and (await listing.connect())[0]
    snapshot = await page.receive_from(timeout=5)  # on (re)connect: the ask as it is now
    assert f'id="ask-{request.ask}"' in snapshot and 'data-state="sent"' in snapshot
    assert f"ask-{other.ask}" not in snapshot
    whole = await listing.receive_from(timeout=5)  # the list page: her whole list
    assert 'id="asks"' in whole and f"ask-{request.ask}" in whole and f"ask-{other.ask}" in whole
    await database_sync_to_async(placement_transition)(request_id=request.pk, to=State.ACCEPTED, by=world.staff)
    frame = await page.receive_from(timeout=5)
    assert f'id="ask-{request.ask}"' in frame and 'data-state="accepted"' in frame
    assert 'id="asks"' in await listing.receive_from(timeout=5)
    # A change of the other ask is not sent to this ask's page (it has nowhere to put it).
    await database_sync_to_async(placement_transition)(request_id=other.pk, to=State.ACCEPTED, by=world.staff)
    assert f"ask-{other.ask}" in await listing.receive_from(timeout=5)
    assert await page.receive_nothing(timeout=0.5)
    await page.disconnect()
    await listing.disconnect()


async def test_another_locations_desk_hears_nothing(world: World) -> None:
    other = await socket("/ws/requests/desk/", world.other_staff)
    assert (await other.connect())[0]
    await other.receive_from(timeout=5)  # its own snapshot
    await database_sync_to_async(send)(world)
    assert await other.receive_nothing(timeout=0.5)
    await other.disconnect()


async def test_an_expiry_is_pushed_and_alerts_the_coordinators(world: World) -> None:
    request = await database_sync_to_async(send)(world)
    mine = await socket(f"/ws/requests/mine/?lang=en&ask={request.ask}", world.midwife)
    assert (await mine.connect())[0]
    await mine.receive_from(timeout=5)
    alerts = await socket("/ws/alerts/?lang=en", world.coordinator)
    assert (await alerts.connect())[0]
    await alerts.receive_from(timeout=5)  # the banner as it is: empty
    later = request.deadline + timedelta(seconds=1)
    assert await database_sync_to_async(placement_expire_due)(now=later) == 1
    frame = await mine.receive_from(timeout=5)
    assert 'data-state="expired"' in frame
    banner = await alerts.receive_from(timeout=5)
    assert "expired without an answer" in banner and world.location.name in banner
    assert await database_sync_to_async(Alert.objects.filter(kind="request_expired").count)() == 1
    await mine.disconnect()
    await alerts.disconnect()


@pytest.mark.parametrize("persona", ["midwife", "coordinator", "org_admin", "national_admin", "no_role"])
async def test_the_desk_socket_refuses_everyone_but_staff(world: World, persona: str) -> None:
    comm = await socket("/ws/requests/desk/", world.personas()[persona])
    assert await close_code(comm) == 4403


@pytest.mark.parametrize("persona", ["staff", "other_staff", "coordinator", "org_admin", "national_admin", "no_role"])
async def test_the_midwife_socket_refuses_everyone_but_midwives(world: World, persona: str) -> None:
    comm = await socket("/ws/requests/mine/", world.personas()[persona])
    assert await close_code(comm) == 4403


@pytest.mark.parametrize("path", ["/ws/requests/desk/", "/ws/requests/mine/"])
async def test_anonymous_sockets_are_refused(world: World, path: str) -> None:
    assert await close_code(await socket(path)) == 4401


async def test_another_midwife_hears_nothing_of_her_requests(world: World) -> None:
    other = await database_sync_to_async(User.objects.create_user)(
        "m2", role=User.Role.MIDWIFE, organisation=world.practice
    )
    comm = await socket("/ws/requests/mine/", other)
    assert (await comm.connect())[0]
    assert 'id="asks"' in await comm.receive_from(timeout=5)  # her own (empty) list
    await database_sync_to_async(send)(world)
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()


async def test_an_idle_desk_stays_open_and_still_gets_the_next_request(world: World) -> None:
    """A quiet night: no push for longer than Redis's read timeout must not end the desk's socket
    (channels-redis waits on its inbox; a client read timeout below that wait closed it)."""
    import asyncio

    desk = await socket("/ws/requests/desk/", world.staff)
    assert (await desk.connect())[0]
    await desk.receive_from(timeout=5)
    await asyncio.sleep(12)
    request = await database_sync_to_async(send)(world)
    assert f'id="req-{request.pk}"' in await desk.receive_from(timeout=5)
    await desk.disconnect()
