"""The planner's intake weeks page: the grid, one week changed in at most three taps, the whole grid
confirmed in one, bad input and stale versions in words; nothing half-saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from hospitals.models import User
from kraamzorg.models import IntakeEvent, IntakeWeek
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from tests.conftest import World

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
PLAN = "/kraamzorg/plan/"


@pytest.fixture
def planner(world: World, client_for: Login) -> Client:
    client = client_for(world.planner)
    client.cookies["django_language"] = "en"
    return client


def prefix(week: date) -> str:
    return f"w{week:%Y%m%d}"


def week_post(week: date, version: object = 0, **kw: object) -> dict[str, object]:
    p = prefix(week)
    data: dict[str, object] = {f"{p}-version": version, f"{p}-status": "open", f"{p}-families": 3, f"{p}-hours": "full"}
    data.update({f"{p}-{k}": v for k, v in kw.items()})
    return data


def fill(world: World, week: date, families: int = 4) -> IntakeWeek:
    return intake_week_set(
        by=world.planner,
        organisation_id=world.kraamzorg.pk,
        week=week,
        change=IntakeChange(families=families, hours="full", status="open"),
        expected_version=0,
    )


def test_the_planner_lands_on_the_twelve_weeks(world: World, planner: Client) -> None:
    assert planner.get("/")["Location"] == PLAN
    fill(world, weeks_ahead()[0])
    html = planner.get(PLAN).content.decode()
    assert html.count('class="week card') == 12
    assert html.count("Not filled in yet") == 11
    assert "Intake weeks: Kraamzorg Synthetisch Utrecht" in html
    assert f'name="version-{weeks_ahead()[0]:%Y-%m-%d}" value="1"' in html  # a filled week joins "confirm all"
    assert f'name="version-{weeks_ahead()[1]:%Y-%m-%d}"' not in html  # an empty one cannot be confirmed
    assert 'aria-current="page">Intake weeks</a>' in html


def test_one_week_is_saved_and_recorded(world: World, planner: Client) -> None:
    week = weeks_ahead()[3]
    response = planner.post(
        reverse("kraamzorg:week_update", args=[f"{week:%Y-%m-%d}"]),
        week_post(week, status="limited", reason="staff", hours="minimum", minimum_hours=24, families=2),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "✓ Saved: week" in html and "at least 24 h" in html and "Limited: not enough staff" in html
    row = IntakeWeek.objects.get()
    assert (row.families, row.status, row.reason, row.minimum_hours, row.updated_by) == (
        2, "limited", "staff", 24, world.planner
    )  # fmt: skip
    assert IntakeEvent.objects.get().by == world.planner


def test_without_javascript_a_save_goes_back_to_the_page(world: World, planner: Client) -> None:
    week = weeks_ahead()[0]
    response = planner.post(reverse("kraamzorg:week_update", args=[f"{week:%Y-%m-%d}"]), week_post(week))
    assert response.status_code == 302 and response["Location"] == PLAN
    assert "Saved: week" in planner.get(PLAN).content.decode()


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"families": ""}, "families", "Fill in how many new families"),
        ({"families": "-2"}, "families", "greater than or equal to 0"),
        ({"status": "stop", "reason": "full", "families": 3}, "families", "set the number to 0"),
        ({"status": "limited"}, "reason", "needs a reason"),
        ({"hours": "minimum"}, "minimum_hours", "1 to 48"),
    ],
)
def test_bad_input_is_a_400_with_the_message_on_its_field(
    world: World, planner: Client, kw: dict[str, object], field: str, words: str
) -> None:
    week = weeks_ahead()[1]
    response = planner.post(
        reverse("kraamzorg:week_update", args=[f"{week:%Y-%m-%d}"]), week_post(week, **kw), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    html = response.content.decode()
    error_id = f"id_{prefix(week)}-{field}-error"
    assert re.search(rf'id="{error_id}">[^<]*{re.escape(words)}', html), html
    assert f'aria-describedby="{error_id}"' in html
    assert "<details open>" in html  # the form stays open at the error
    assert not IntakeWeek.objects.exists() and not IntakeEvent.objects.exists()


def test_a_stale_version_is_a_409_with_the_current_figures(world: World, planner: Client) -> None:
    week = weeks_ahead()[0]
    fill(world, week, families=7)  # someone else filled it in meanwhile
    response = planner.post(
        reverse("kraamzorg:week_update", args=[f"{week:%Y-%m-%d}"]), week_post(week, families=1), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed this week" in html and f'name="{prefix(week)}-families"' in html
    assert 'value="7"' in html and IntakeWeek.objects.get().families == 7


@pytest.mark.parametrize("raw", ["2026-13-01", "not-a-week", "1999-01-04"])
def test_a_week_outside_the_grid_is_not_found(world: World, planner: Client, raw: str) -> None:
    assert planner.post(reverse("kraamzorg:week_update", args=[raw]), {}).status_code == 404
    assert not IntakeWeek.objects.exists()


def test_the_whole_grid_is_confirmed_in_one_tap(world: World, planner: Client) -> None:
    for week in weeks_ahead():
        fill(world, week)
    page = planner.get(PLAN).content.decode()
    versions = dict(re.findall(r'form="confirm-weeks" name="(version-[\d-]+)" value="(\d+)"', page))
    assert len(versions) == 12
    response = planner.post(reverse("kraamzorg:confirm_all"), versions, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Confirmed unchanged: 12 weeks." in response.content.decode()
    assert set(IntakeWeek.objects.values_list("version", flat=True)) == {2}
    assert IntakeEvent.objects.filter(action="confirm", by=world.planner).count() == 12


def test_a_confirm_after_a_change_confirms_nothing(world: World, planner: Client) -> None:
    weeks = weeks_ahead()[:2]
    for week in weeks:
        fill(world, week)
    stop = IntakeChange(families=0, hours="full", status="stop", reason="full")
    intake_week_set(
        by=world.planner, organisation_id=world.kraamzorg.pk, week=weeks[1], change=stop, expected_version=1
    )
    stale = {f"version-{w:%Y-%m-%d}": 1 for w in weeks}
    response = planner.post(reverse("kraamzorg:confirm_all"), stale, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "nothing was confirmed" in response.content.decode()
    assert not IntakeEvent.objects.filter(action="confirm").exists()


@pytest.mark.parametrize("data", [{}, {"version-2026-99-01": "1"}, {f"version-{weeks_ahead()[0]:%Y-%m-%d}": "x"}])
def test_a_confirm_with_nothing_valid_is_a_400(world: World, planner: Client, data: dict[str, str]) -> None:
    assert planner.post(reverse("kraamzorg:confirm_all"), data, HTTP_HX_REQUEST="true").status_code == 400


def test_another_organisations_planner_cannot_reach_this_grid(world: World, client_for: Login, kz: object) -> None:
    # Every URL is for planners only (tests/test_security_role_matrix.py); a planner only ever gets their own grid.
    other = User.objects.get(username="other_planner")
    client = client_for(other)
    week = weeks_ahead()[0]
    client.post(reverse("kraamzorg:week_update", args=[f"{week:%Y-%m-%d}"]), week_post(week))
    assert IntakeWeek.objects.get().organisation != world.kraamzorg
    assert "Kraamzorg Synthetisch Amersfoort" in client.get(PLAN).content.decode()
