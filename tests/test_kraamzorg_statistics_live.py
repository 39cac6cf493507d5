"""The region's kraamzorg page updates live (real channel layer on Redis): nudged once shortages are
counted in the rollup (not when registered), once an intake week of an organisation whose work areas
count in the region's coverage changes, once per region for a sweep, every region after a rebuild;
the figures it then fetches show the change; only the page's own audience may listen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hospitals.models import AccessLog, Organisation, Postcode, User
from kraamzorg import aggregation, tasks
from kraamzorg.models import Shortage, WorkArea, monday_of
from kraamzorg.regional import regions_covered_by
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from kraamzorg.shortages import ShortageInput, shortage_register, shortage_withdraw
from tests.conftest import World
from tests.test_consumers import board, close_code

pytestmark = pytest.mark.django_db(transaction=True)
OPEN = IntakeChange(families=3, hours="full", status="open")


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Aggregation tasks the services hand to Celery; the test plays the worker."""
    ids: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", ids.append)
    return ids


@pytest.fixture
def areas(world: World) -> dict[str, Any]:
    """3584 (Utrecht) is served by the world's organisation and by one of the other region; 2311 (Leiden) only
    by another of the other region; one organisation of the region has no work area at all."""
    for pc4, place in (("3584", "Utrecht"), ("2311", "Leiden")):
        Postcode.objects.create(pk=pc4, place=place, municipality=place, province="", latitude=52.0, longitude=5.0)
    neighbour = Organisation.objects.create(
        name="KZ Grens", kind=Organisation.Kind.KRAAMZORG, region=world.other_region
    )
    leiden = Organisation.objects.create(name="KZ Leiden", kind=Organisation.Kind.KRAAMZORG, region=world.other_region)
    nowhere = Organisation.objects.create(name="KZ Nergens", kind=Organisation.Kind.KRAAMZORG, region=world.region)
    WorkArea.objects.create(organisation=world.kraamzorg, pc4="3584")
    WorkArea.objects.create(organisation=neighbour, pc4="3584")
    WorkArea.objects.create(organisation=leiden, pc4="2311")
    planners = {
        org.name: User.objects.create_user(username=f"p{org.pk}", role=User.Role.KRAAMZORG_PLANNER, organisation=org)
        for org in (neighbour, leiden, nowhere)
    }
    return {"neighbour": neighbour, "leiden": leiden, "nowhere": nowhere, "planners": planners}


async def socket(world: World, user: User | None, code: str | None = None) -> WebsocketCommunicator:
    return await board(f"/ws/statistics/{code or world.region.code}/kraamzorg/", user)


async def opened(world: World, user: User, code: str | None = None) -> WebsocketCommunicator:
    comm = await socket(world, user, code)
    assert (await comm.connect())[0]
    return comm


async def nudged(comm: WebsocketCommunicator) -> bool:
    frame = await comm.receive_from(timeout=5)
    assert 'id="stats-pushed"' in frame and 'hx-swap-oob="true"' in frame
    return True


def register(world: World) -> Shortage:
    due = monday_of(timezone.localdate()) + timedelta(weeks=2)
    data = ShortageInput(pc4="3584", due_week=due, indicated_hours=49, promised_hours=24,
                         reason=Shortage.Reason.STAFF, vulnerable=Shortage.Vulnerable.YES)  # fmt: skip
    return shortage_register(by=world.midwife, data=data)


async def test_nudged_once_counted_not_when_registered(world: World, areas: dict, enqueued: list[int]) -> None:
    comm = await opened(world, world.coordinator)
    west = await opened(world, world.national_admin, world.other_region.code)
    shortage = await database_sync_to_async(register)(world)
    assert enqueued == [shortage.pk]
    assert await comm.receive_nothing(timeout=0.5)  # registered, not yet counted: nothing new to show

    assert await database_sync_to_async(aggregation.aggregate)(shortage.pk) == "counted"
    assert await nudged(comm)
    assert await west.receive_nothing(timeout=0.3)  # another region's shortages did not change
    assert await database_sync_to_async(aggregation.aggregate)(shortage.pk) == "unchanged"
    assert await comm.receive_nothing(timeout=0.5)

    await database_sync_to_async(shortage_withdraw)(shortage_id=shortage.pk, by=world.midwife, expected_version=None)
    assert await database_sync_to_async(aggregation.aggregate)(shortage.pk) == "removed"
    assert await nudged(comm)
    await comm.disconnect()
    await west.disconnect()


async def test_a_sweep_is_one_nudge_per_region(world: World, areas: dict, enqueued: list[int]) -> None:
    for _ in range(3):
        await database_sync_to_async(register)(world)
    comm = await opened(world, world.coordinator)
    assert (await database_sync_to_async(aggregation.sweep)())["counted"] == 3
    assert await nudged(comm)
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()


async def test_a_rebuild_nudges_every_region(world: World, areas: dict) -> None:
    comm = await opened(world, world.coordinator)
    west = await opened(world, world.national_admin, world.other_region.code)
    await database_sync_to_async(aggregation.rebuild)()
    assert await nudged(comm) and await nudged(west)
    await comm.disconnect()
    await west.disconnect()


def test_the_regions_an_organisation_counts_in(world: World, areas: dict) -> None:
    both = {world.region.pk, world.other_region.pk}
    assert regions_covered_by(world.kraamzorg.pk) == both  # 3584 is a row in both regions' maps
    assert regions_covered_by(areas["neighbour"].pk) == both
    assert regions_covered_by(areas["leiden"].pk) == {world.other_region.pk}
    assert regions_covered_by(areas["nowhere"].pk) == set()  # no work area: in nobody's map


async def test_an_intake_change_nudges_every_region_whose_coverage_counts_it(world: World, areas: dict) -> None:
    weeks = weeks_ahead()
    comm = await opened(world, world.coordinator)
    west = await opened(world, world.national_admin, world.other_region.code)
    planners = areas["planners"]

    def set_week(planner: User, week_index: int) -> None:
        assert planner.organisation_id is not None
        intake_week_set(by=planner, organisation_id=planner.organisation_id, week=weeks[week_index], change=OPEN,
                        expected_version=0)  # fmt: skip

    await database_sync_to_async(set_week)(planners["KZ Leiden"], 0)
    assert await nudged(west)
    assert await comm.receive_nothing(timeout=0.5)  # Leiden is no area of this region

    await database_sync_to_async(set_week)(planners["KZ Grens"], 1)  # across the border, but serving 3584
    assert await nudged(comm) and await nudged(west)

    await database_sync_to_async(set_week)(planners["KZ Nergens"], 2)
    assert await comm.receive_nothing(timeout=0.5) and await west.receive_nothing(timeout=0.1)
    await comm.disconnect()
    await west.disconnect()


async def test_the_figures_fetched_after_the_nudge_show_the_change_and_are_not_logged(
    world: World, areas: dict, enqueued: list[int]
) -> None:
    client = Client()
    client.cookies["django_language"] = "en"
    await database_sync_to_async(client.force_login)(world.coordinator)
    url = reverse("refusals:kraamzorg", args=[world.region.code])
    refresh = {"HX-Request": "true", "HX-Target": "stats-body"}

    def get(headers: dict[str, str] | None = None) -> str:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200 and "HX-Target" in response["Vary"]
        return response.content.decode()

    page = await database_sync_to_async(get)()
    assert f'ws-connect="/ws/statistics/{world.region.code}/kraamzorg/?lang=en"' in page and 'id="stats-body"' in page
    before = await database_sync_to_async(get)(refresh)
    assert "<html" not in before and "data-stats-total" in before
    assert "0 registered shortages" in before and "● 1/2" not in before

    comm = await opened(world, world.coordinator)
    shortage = await database_sync_to_async(register)(world)
    await database_sync_to_async(aggregation.aggregate)(shortage.pk)
    assert await nudged(comm)
    logged = await database_sync_to_async(AccessLog.objects.count)()
    after = await database_sync_to_async(get)(refresh)
    assert "1 registered shortages" in after

    await database_sync_to_async(intake_week_set)(
        by=world.planner, organisation_id=world.kraamzorg.pk, week=weeks_ahead()[0], change=OPEN, expected_version=0
    )
    assert await nudged(comm)
    covered = await database_sync_to_async(get)(refresh)
    assert "1/2" in covered and "1/2" not in after  # one of the two serving 3584 has room now
    key = 'data-stats-total="'
    assert covered.split(key)[1][:16] != after.split(key)[1][:16] != before.split(key)[1][:16]
    assert await database_sync_to_async(AccessLog.objects.count)() == logged  # refreshes are not views
    await comm.disconnect()


# --- who may listen --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "no_role", "midwife", "org_admin", "planner"])
async def test_only_the_pages_audience_may_listen(world: World, persona: str) -> None:
    assert await close_code(await socket(world, world.personas()[persona])) == 4403


async def test_anonymous_another_region_and_an_unknown_region(world: World) -> None:
    assert await close_code(await socket(world, None)) == 4401
    assert await close_code(await socket(world, world.coordinator, world.other_region.code)) == 4403
    assert await close_code(await socket(world, world.coordinator, "atlantis")) == 4404
    national = await opened(world, world.national_admin, world.other_region.code)  # any region
    assert await national.receive_nothing(timeout=0.3)
    await national.disconnect()
