"""The kraamzorg tab updates live: an intake change reaches the open tabs that show that organisation
and week through the hub (real Redis), and no others; the list fetched after the notice shows it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from config.asgi import application
from hospitals.models import Organisation, User
from kraamzorg.models import IntakeWeek, WorkArea
from kraamzorg.selectors import intake_fingerprint
from kraamzorg.services import IntakeChange, intake_confirm_unchanged, intake_week_set, weeks_ahead
from search.live import intake_group, plan_group
from tests.conftest import World
from tests.search_world import make_postcodes
from tests.test_consumers import close_code
from tests.test_search_live import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
OPEN = IntakeChange(families=3, hours="full", status="open")


async def socket(query: str, user: User | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    return WebsocketCommunicator(application, f"/ws/search/kraamzorg/?{query}", headers=headers)


async def set_week(world: World, week: date, change: IntakeChange = OPEN) -> IntakeWeek:
    def run() -> IntakeWeek:
        row = IntakeWeek.objects.filter(organisation=world.kraamzorg, week=week).first()
        return intake_week_set(by=world.planner, organisation_id=world.kraamzorg.pk, week=week, change=change,
                               expected_version=row.version if row else 0)  # fmt: skip

    return await database_sync_to_async(run)()


async def test_the_tab_hears_its_organisation_and_week_and_nothing_else(world: World) -> None:
    weeks = weeks_ahead()
    other = await database_sync_to_async(Organisation.objects.create)(
        name="Kraamzorg Ander", kind=Organisation.Kind.KRAAMZORG, region=world.region
    )
    other_planner = await database_sync_to_async(User.objects.create_user)(
        username="other-planner", role=User.Role.KRAAMZORG_PLANNER, organisation=other
    )
    comm = await socket(f"organisations={world.kraamzorg.pk}&week={weeks[2]}", world.midwife)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    fingerprint = await database_sync_to_async(intake_fingerprint)([world.kraamzorg.pk], weeks[2])
    assert hello == {"type": "hello", "fingerprint": fingerprint}

    await set_week(world, weeks[3])  # another week of the same organisation
    await database_sync_to_async(intake_week_set)(
        by=other_planner, organisation_id=other.pk, week=weeks[2], change=OPEN, expected_version=0
    )  # the same week of another organisation
    assert await comm.receive_nothing(timeout=0.5)

    await set_week(world, weeks[2])
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    await comm.disconnect()


async def test_confirm_unchanged_reaches_every_week_it_confirmed(world: World) -> None:
    weeks = weeks_ahead()
    rows = [await set_week(world, week) for week in weeks[:3]]
    comm = await socket(f"organisations={world.kraamzorg.pk}&week={weeks[1]}", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)
    await database_sync_to_async(intake_confirm_unchanged)(
        by=world.planner, organisation_id=world.kraamzorg.pk, versions={r.week: r.version for r in rows}
    )
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    await comm.disconnect()


async def test_the_list_fetched_after_the_notice_shows_the_change_in_its_new_place(world: World) -> None:
    week = weeks_ahead()[1]

    def setup() -> Organisation:
        make_postcodes()
        WorkArea.objects.create(organisation=world.kraamzorg, pc4="3584")
        rival = Organisation.objects.create(name="A Kraamzorg", kind=Organisation.Kind.KRAAMZORG, region=world.region)
        WorkArea.objects.create(organisation=rival, pc4="3584")
        return rival

    rival = await database_sync_to_async(setup)()
    await set_week(world, week)
    client = Client()
    client.cookies["django_language"] = "en"
    await database_sync_to_async(client.force_login)(world.midwife)
    url = reverse("search:kraamzorg_results")

    def fetch() -> str:
        return client.get(url, {"pc4": "3584", "due": week.isoformat()}).content.decode()

    before = await database_sync_to_async(fetch)()
    ours, theirs = f'id="kraamzorg-{world.kraamzorg.pk}"', f'id="kraamzorg-{rival.pk}"'
    assert before.index(ours) < before.index(theirs)  # full hours before never filled in
    ids = sorted([world.kraamzorg.pk, rival.pk])
    comm = await socket(f"organisations={ids[0]},{ids[1]}&week={week}", world.midwife)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)

    await set_week(world, week, IntakeChange(families=0, hours="full", status="stop", reason="staff"))
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    after = await database_sync_to_async(fetch)()
    assert after.index(theirs) < after.index(ours)  # a stop goes below the unknown
    assert "Intake stop: not enough staff" in after and "Intake stop" not in before
    await comm.disconnect()


async def test_a_change_missed_before_connecting_shows_in_the_hello_fingerprint(world: World) -> None:
    week = weeks_ahead()[0]
    rendered = await database_sync_to_async(intake_fingerprint)([world.kraamzorg.pk], week)
    await set_week(world, week)  # no socket yet
    comm = await socket(f"organisations={world.kraamzorg.pk}&week={week}", world.midwife)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    assert hello["type"] == "hello" and hello["fingerprint"] != rendered
    await comm.disconnect()


def test_the_event_crosses_redis_once_addressed_to_the_weeks_groups(world: World, published: list) -> None:
    weeks = weeks_ahead()
    rows = [
        intake_week_set(by=world.planner, organisation_id=world.kraamzorg.pk, week=w, change=OPEN, expected_version=0)
        for w in weeks[:2]
    ]
    published.clear()
    intake_confirm_unchanged(by=world.planner, organisation_id=world.kraamzorg.pk,
                             versions={r.week: r.version for r in rows})  # fmt: skip
    assert len(published) == 1
    assert published[0]["groups"] == [intake_group(world.kraamzorg.pk, w) for w in weeks[:2]] + [
        plan_group(world.kraamzorg.pk)  # the organisation's open planner pages (test_kraamzorg_plan_live.py)
    ]


@pytest.mark.parametrize("persona", ["midwife", "coordinator", "org_admin", "national_admin"])
async def test_searchers_may_follow_the_tab(world: World, persona: str) -> None:
    comm = await socket(f"organisations={world.kraamzorg.pk}&week={weeks_ahead()[0]}", world.personas()[persona])
    assert (await comm.connect())[0]
    assert json.loads(await comm.receive_from(timeout=5))["type"] == "hello"
    await comm.disconnect()


@pytest.mark.parametrize("persona", ["staff", "no_role", "planner"])
async def test_others_are_refused(world: World, persona: str) -> None:
    comm = await socket(f"organisations={world.kraamzorg.pk}&week={weeks_ahead()[0]}", world.personas()[persona])
    assert await close_code(comm) == 4403


async def test_anonymous_is_told_to_log_in(world: World) -> None:
    comm = await socket(f"organisations={world.kraamzorg.pk}&week={weeks_ahead()[0]}", None)
    assert await close_code(comm) == 4401


@pytest.mark.parametrize(
    "query",
    ["", "organisations=1", "organisations=&week=2026-12-07", "organisations=1,x&week=2026-12-07",
     "organisations=1&week=2026-12-08", "organisations=1&week=soon", "week=2026-12-07",
     "organisations=" + ",".join(["1"] * 201) + "&week=2026-12-07"],
)  # fmt: skip
async def test_a_malformed_subscription_is_refused(world: World, query: str) -> None:
    comm = await socket(query, world.midwife)
    assert await close_code(comm) == 4400
