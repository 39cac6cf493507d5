"""The region benchmark page: who may see it, the own region exact, others and downloads suppressed."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hospitals.models import AccessLog
from refusals import aggregation
from tests.conftest import World
from tests.test_statistics import make_refusal
from tests.test_views_statistics import this_week

pytestmark = pytest.mark.django_db

URL = "/statistics/benchmark/"


@pytest.fixture
def refusals(world: World) -> None:
    at = timezone.now() - timedelta(minutes=30)
    for _i in range(3):
        make_refusal(world, at)
    for _i in range(12):
        make_refusal(world, at, location=world.far_location, region=world.other_region)
    aggregation.rebuild()


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_others_are_refused(world: World, client_for: Any, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(URL).status_code == 403
    assert c.get(f"{URL}?format=csv").status_code == 403


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_coordinator_sees_the_own_region_exactly_beside_the_others(
    world: World, client_for: Any, refusals: None
) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{this_week()}")
    assert response.status_code == 200
    by_code = {r.region.code: r for r in response.context["result"].rows}
    assert by_code["midden"].own and by_code["midden"].refusals.shown == "3"
    assert by_code["west"].refusals.shown == "12"  # 12 is not small
    body = response.content.decode()
    assert "bench-own" in body and "Midden-Nederland" in body and "ROAZ West" in body


def test_a_national_administrator_and_every_download_get_small_numbers_suppressed(
    world: World, client_for: Any, refusals: None
) -> None:
    c = client_for(world.national_admin)
    rows = {r.region.code: r.refusals.shown for r in c.get(f"{URL}?{this_week()}").context["result"].rows}
    assert rows == {"midden": "<5", "west": "<5"}  # 3 is small; 12 would follow from the total of 15
    # The coordinator's own download suppresses the own region too: a file travels.
    download = client_for(world.coordinator).get(f"{URL}?{this_week()}&format=csv")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    regions = {row[0]: row[1] for row in table if len(row) > 5}
    assert regions["Midden-Nederland"] == "<5" and regions["ROAZ West"] == "<5"
    assert any(row[1] == "15" for row in table if len(row) > 5)  # the national total is shown
    xlsx = client_for(world.coordinator).get(f"{URL}?{this_week()}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_views_and_downloads_are_logged(world: World, client_for: Any) -> None:
    c = client_for(world.coordinator)
    before = AccessLog.objects.count()
    c.get(URL)
    c.get(f"{URL}?format=csv")
    assert [(e.action, e.what) for e in AccessLog.objects.order_by("pk")[before:]] == [
        (AccessLog.Action.VIEW, "region benchmark"),
        (AccessLog.Action.EXPORT, "region benchmark"),
    ]


@pytest.mark.parametrize("query", ["period=year", "start=1999-01-01", "start=not-a-date"])
def test_bad_input_is_400(world: World, client_for: Any, query: str) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.context["form"].errors
    assert client_for(world.coordinator).get(f"{URL}?{query}&format=csv").status_code == 400
