"""The planner's page updates live: a change by another planner of the organisation, or by its planning
system through the API, reaches the open page through the hub (real Redis), and no other organisation's
page; the grid fetched after the notice carries the new figures and the versions "confirm all" needs."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from capacity.models import ApiToken
from config.asgi import application
from hospitals.models import User
from kraamzorg.models import IntakeWeek
from kraamzorg.selectors import plan_fingerprint
from kraamzorg.services import IntakeChange, intake_confirm_unchanged, intake_week_set, weeks_ahead
from tests.api_support import Api, org_token
from tests.conftest import Kraamzorg, World
from tests.test_consumers import close_code
from tests.test_search_live import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
OPEN = IntakeChange(families=3, hours="full", status="open")
PATH = "/ws/kraamzorg/plan/"


async def socket(user: User | None, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    return WebsocketCommunicator(application, PATH, headers=headers)


def set_week(by: User, week: date, change: IntakeChange = OPEN) -> IntakeWeek:
    assert by.organisation_id is not None
    row = IntakeWeek.objects.filter(organisation_id=by.organisation_id, week=week).first()
    return intake_week_set(by=by, organisation_id=by.organisation_id, week=week, change=change,
                           expected_version=row.version if row else 0)  # fmt: skip


async def opened(user: User) -> WebsocketCommunicator:
    comm = await socket(user)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    assert hello["type"] == "hello"
    return comm


@pytest.fixture
def colleague(world: World) -> User:
    """A second planner of the same organisation."""
    return User.objects.create_user(
        username="colleague", role=User.Role.KRAAMZORG_PLANNER, organisation=world.kraamzorg
    )


async def test_the_page_hears_its_organisation_and_no_other(world: World, kz: Kraamzorg, colleague: User) -> None:
    weeks = weeks_ahead()
    comm = await socket(world.planner)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    assert hello == {"type": "hello", "fingerprint": await database_sync_to_async(plan_fingerprint)(world.kraamzorg.pk)}
    assert hello["fingerprint"].split(",")[0] == f"{weeks[0]:%Y-%m-%d}:0"  # every week with its version
    theirs = await opened(kz.other_planner)

    await database_sync_to_async(set_week)(kz.other_planner, weeks[1])  # another organisation
    assert await comm.receive_nothing(timeout=0.5)
    assert json.loads(await theirs.receive_from(timeout=5)) == {"type": "changed"}

    await database_sync_to_async(set_week)(colleague, weeks[5])  # a colleague, any week of the grid
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    assert await theirs.receive_nothing(timeout=0.5)
    await comm.disconnect()
    await theirs.disconnect()


async def test_a_confirm_all_elsewhere_is_one_notice(world: World, colleague: User) -> None:
    rows = [await database_sync_to_async(set_week)(colleague, w) for w in weeks_ahead()]
    comm = await opened(world.planner)
    await database_sync_to_async(intake_confirm_unchanged)(
        by=colleague, organisation_id=world.kraamzorg.pk, versions={r.week: r.version for r in rows}
    )
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    assert await comm.receive_nothing(timeout=0.5)  # twelve weeks, one event
    await comm.disconnect()


async def test_a_change_through_the_api_reaches_the_page(world: World) -> None:
    week = weeks_ahead()[3]

    def put() -> int:
        admin = User.objects.create_user(username="kz_admin", role=User.Role.ORG_ADMIN, organisation=world.kraamzorg)
        writer = Api(org_token(world.kraamzorg, admin, scope=ApiToken.Scope.WRITE_INTAKE))
        body = {"families": 0, "hours": "full", "status": "stop", "reason": "full"}
        return writer.put(f"/intake/{week.isoformat()}", body, **{"If-Match": '"0"'}).status_code

    comm = await opened(world.planner)
    assert await database_sync_to_async(put)() == 200
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    await comm.disconnect()


def version_inputs(html: str) -> dict[str, int]:
    return {w: int(v) for w, v in re.findall(r'name="version-(\d{4}-\d{2}-\d{2})" value="(\d+)"', html)}


async def test_the_grid_fetched_after_the_notice_has_the_new_figures_and_versions(
    world: World, colleague: User
) -> None:
    weeks = weeks_ahead()
    for w in weeks:
        await database_sync_to_async(set_week)(world.planner, w)
    client = Client()
    client.cookies["django_language"] = "en"
    await database_sync_to_async(client.force_login)(world.planner)
    url = reverse("kraamzorg:plan")

    def fetch() -> str:
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200 and "HX-Request" in response["Vary"]
        return response.content.decode()

    before = await database_sync_to_async(fetch)()
    assert before.lstrip().startswith('<div id="intake-grid"') and "<html" not in before  # the partial only
    assert version_inputs(before) == {f"{w:%Y-%m-%d}": 1 for w in weeks}
    comm = await opened(world.planner)

    stop = IntakeChange(families=0, hours="full", status="stop", reason="staff")
    await database_sync_to_async(set_week)(colleague, weeks[2], stop)
    assert json.loads(await comm.receive_from(timeout=5)) == {"type": "changed"}
    after = await database_sync_to_async(fetch)()
    card = re.search(rf'<div id="week-{weeks[2]:%Y-%m-%d}"[^>]*>', after)
    assert card is not None and 'data-version="2"' in card.group(0)
    assert "Intake stop: not enough staff" in after and "Intake stop: not enough staff" not in before
    assert version_inputs(after)[f"{weeks[2]:%Y-%m-%d}"] == 2

    # "Confirm all" with the versions the page had before the notice: refused, nothing confirmed;
    # with the ones it put in after it: every week confirmed.
    def confirm(versions: dict[str, int]) -> int:
        data = {f"version-{w}": v for w, v in versions.items()}
        return client.post(reverse("kraamzorg:confirm_all"), data, headers={"HX-Request": "true"}).status_code

    assert await database_sync_to_async(confirm)(version_inputs(before)) == 409
    assert await database_sync_to_async(confirm)(version_inputs(after)) == 200
    confirmed = await database_sync_to_async(
        lambda: sorted(IntakeWeek.objects.filter(organisation=world.kraamzorg).values_list("version", flat=True))
    )()
    assert confirmed == sorted([2] * 11 + [3])
    await comm.disconnect()


async def test_a_change_missed_while_away_shows_in_the_hello(world: World, colleague: User) -> None:
    rendered = await database_sync_to_async(plan_fingerprint)(world.kraamzorg.pk)
    await database_sync_to_async(set_week)(colleague, weeks_ahead()[0])  # the page's socket is down
    comm = await socket(world.planner)
    assert (await comm.connect())[0]
    hello = json.loads(await comm.receive_from(timeout=5))
    assert hello["fingerprint"] != rendered
    assert hello["fingerprint"].split(",")[0] == f"{weeks_ahead()[0]:%Y-%m-%d}:1"
    await comm.disconnect()


def test_the_page_carries_the_socket_and_each_week_its_version(world: World, client: Client) -> None:
    week = weeks_ahead()[1]
    set_week(world.planner, week)
    client.force_login(world.planner)
    page = client.get(reverse("kraamzorg:plan")).content.decode()
    assert 'data-ws="/ws/kraamzorg/plan/"' in page and 'src="/static/js/plan.js"' in page
    assert f'data-week="{week:%Y-%m-%d}" data-version="1"' in page
    assert f'data-week="{weeks_ahead()[0]:%Y-%m-%d}" data-version="0"' in page  # never filled in
    assert 'id="week-changed-notice"' in page


# --- who may listen --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "no_role", "midwife", "coordinator", "org_admin", "national_admin"])
async def test_everyone_but_planners_is_refused(world: World, persona: str) -> None:
    assert await close_code(await socket(world.personas()[persona])) == 4403


async def test_anonymous_is_told_to_log_in(world: World) -> None:
    assert await close_code(await socket(None)) == 4401


async def test_a_planner_without_an_organisation_and_a_deactivated_planner_are_refused(world: World) -> None:
    loose = await database_sync_to_async(User.objects.create_user)(
        username="loose", role=User.Role.KRAAMZORG_PLANNER, organisation=None
    )
    assert await close_code(await socket(loose)) == 4403
    comm = await socket(world.planner)  # logged in, then deactivated before the socket opens

    def deactivate() -> None:
        User.objects.filter(pk=world.planner.pk).update(is_active=False)

    await database_sync_to_async(deactivate)()
    assert await close_code(comm) == 4401  # a deactivated account is no longer logged in


async def test_a_foreign_origin_is_refused(world: World) -> None:
    assert await close_code(await socket(world.planner, origin=b"https://evil.example")) == 4403
