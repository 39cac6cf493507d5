"""The after-a-refusal page: who may see it, exact figures for the region's own coordinators only,
suppressed small numbers for everyone else (page and exports), bad input, the access log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hospitals.models import AccessLog
from refusals.models import Refusal
from tests.conftest import World
from tests.test_statistics import make_refusal
from tests.test_views_statistics import this_week

pytestmark = pytest.mark.django_db

URL = "/statistics/midden/outcomes/"


@pytest.fixture
def refusals(world: World) -> list[Refusal]:
    at = timezone.now() - timedelta(minutes=30)
    made = [make_refusal(world, at, outcome="home") for _i in range(2)]
    made += [make_refusal(world, at, outcome="unknown", gestational_weeks=38) for _i in range(12)]
    return made


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_others_are_refused(world: World, client_for: Any, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(URL).status_code == 403
    assert c.get(f"{URL}?format=csv").status_code == 403


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_coordinator_sees_exact_figures_of_the_own_region_only(
    world: World, client_for: Any, refusals: list[Refusal]
) -> None:
    c = client_for(world.coordinator)
    assert c.get("/statistics/west/outcomes/").status_code == 403
    response = c.get(f"{URL}?{this_week()}")
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.suppressed
    assert {x.key: x.shown for x in result.where}["home"] == "2"
    body = response.content.decode()
    assert "&lt;5" not in body


def test_a_national_administrator_sees_small_numbers_suppressed(
    world: World, client_for: Any, refusals: list[Refusal]
) -> None:
    c = client_for(world.national_admin)
    response = c.get(f"{URL}?{this_week()}")
    assert response.status_code == 200
    result = response.context["result"]
    assert result.suppressed
    where = {x.key: x.shown for x in result.where}
    # 2 home births is suppressed, and so is the 12 beside it, which would give it away with the total.
    assert where == {"location-region": "0", "location-elsewhere": "0", "home": "<5", "unknown": "<5"}
    body = response.content.decode()
    assert "&lt;5" in body and ">2<" not in body.split('id="out-where"')[1].split("</section>")[0]

    rows = list(
        csv.reader(io.StringIO(c.get(f"{URL}?{this_week()}&format=csv").content.decode("utf-8-sig")), delimiter=";")
    )
    assert any(row[-1] == "<5" for row in rows if row)
    assert not any(row[1:] == ["2"] for row in rows if len(row) == 2)


def test_exports_and_views_are_logged(world: World, client_for: Any, refusals: list[Refusal]) -> None:
    c = client_for(world.coordinator)
    before = AccessLog.objects.count()
    assert c.get(f"{URL}?{this_week()}").status_code == 200
    xlsx = c.get(f"{URL}?{this_week()}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    entries = list(AccessLog.objects.order_by("pk")[before:])
    assert [(e.action, e.what) for e in entries] == [
        (AccessLog.Action.VIEW, "refusal outcomes"),
        (AccessLog.Action.EXPORT, "refusal outcomes"),
    ]
    assert entries[0].user_id == world.coordinator.pk


@pytest.mark.parametrize(("query", "field"), [("period=year", "period"), ("location=999999", "location")])
def test_bad_input_is_400_with_field_errors(world: World, client_for: Any, query: str, field: str) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f'id="id_{field}-error"' in response.content.decode()
    assert client_for(world.coordinator).get(f"{URL}?{query}&format=csv").status_code == 400
