"""/statistics/<region>/requests/: the coordinators' placement-request statistics page and its files
(docs/requests.md, "Statistics for coordinators"): it works, it checks who you are, bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hospitals.models import AccessLog, User
from tests.conftest import PASSWORD, World
from tests.test_placement_statistics import T0, Clock, a_month_of_requests

URL = "/statistics/midden/requests/"
MAY = "period=month&start=2026-05-12"
MAY_HTML = MAY.replace("&", "&amp;")  # as it stands in an href


@pytest.fixture
def requests_in_may(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The month of tests/test_placement_statistics.py, sent in May 2026; the clock is real again after."""
    with monkeypatch.context() as m:
        clock = Clock(T0)
        m.setattr(timezone, "now", lambda: clock.now)
        a_month_of_requests(world, clock)


def english(c: Client) -> Client:
    # The figures are checked in English, the source language; the Dutch convention separately.
    c.cookies["django_language"] = "en"
    return c


def csv_rows(response: Any, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=delimiter))


def test_the_coordinator_sees_the_figures_of_her_region(world: World, client_for, requests_in_may: None) -> None:
    response = english(client_for(world.coordinator)).get(f"{URL}?{MAY}")
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.period.label, result.total.requests, result.total.acceptance_rate) == ("2026-05", 11, 50.0)
    body = response.content.decode()
    assert "<caption" in body and '<th scope="row">WKZ Utrecht</th>' in body
    assert "LUMC Leiden" not in body  # the other region's location
    assert "<strong>50.0%</strong> – 4 accepted of 8 requests answered or expired" in body
    assert "median 4.0 min, 90th percentile 8.8 min (7 answers)" in body
    assert "50.0% (3/6)" in body  # every rate with its denominator
    assert f'href="/statistics/midden/?{MAY_HTML}"' in body  # back to the refusal statistics, same period
    assert "Provisional" not in body


def test_the_page_is_dutch_by_default_and_says_a_running_period_is_provisional(world: World, client_for) -> None:
    response = client_for(world.coordinator).get(f"{URL}?period=month")
    assert response.status_code == 200 and response.context["result"].provisional
    body = response.content.decode()
    assert "Plaatsingsverzoeken Midden-Nederland" in body and "Voorlopig" in body


def test_the_default_period_is_the_last_full_quarter(world: World, client_for) -> None:
    period = client_for(world.coordinator).get(URL).context["result"].period
    assert period.kind == "quarter" and period.end <= timezone.localdate()


def test_the_refusal_statistics_link_to_it(world: World, client_for) -> None:
    body = client_for(world.coordinator).get(f"/statistics/midden/?{MAY}").content.decode()
    assert f'href="/statistics/midden/requests/?{MAY_HTML}"' in body


def test_a_national_administrator_sees_any_region(world: World, client_for, requests_in_may: None) -> None:
    c = client_for(world.national_admin)
    assert c.get(f"{URL}?{MAY}").status_code == 200
    response = c.get(f"/statistics/west/requests/?{MAY}")
    assert response.status_code == 200 and response.context["result"].total.requests == 1
    assert 'href="/statistics/midden/requests/"' in response.content.decode()  # the region switch


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_everyone_else_is_refused(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    for query in ("", f"?{MAY}", f"?{MAY}&format=csv", f"?{MAY}&format=xlsx"):
        assert c.get(f"{URL}{query}").status_code == 403
    assert not AccessLog.objects.filter(what="request statistics").exists()


def test_another_regions_coordinator_is_refused(world: World, client: Client) -> None:
    west = User.objects.create_user(
        username="west", password=PASSWORD, role=User.Role.COORDINATOR, region=world.other_region
    )
    client.force_login(west)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}?{MAY}&format=csv").status_code == 403
    assert client.get("/statistics/west/requests/").status_code == 200


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_unknown_region_is_404(world: World, client_for) -> None:
    assert client_for(world.coordinator).get("/statistics/nowhere/requests/").status_code == 404


def test_only_get(world: World, client_for) -> None:
    assert client_for(world.coordinator).post(URL).status_code == 405


@pytest.mark.parametrize(
    ("query", "field"),
    [("period=year", "period"), ("start=gisteren", "start"), ("start=2999-01-01", "start")],
)
def test_a_bad_period_is_400_at_its_field(world: World, client_for, query: str, field: str) -> None:
    c = client_for(world.coordinator)
    response = c.get(f"{URL}?{query}")
    assert response.status_code == 400 and field in response.context["form"].errors
    assert f'id="id_{field}-error"' in response.content.decode()
    assert c.get(f"{URL}?{query}&format=csv").status_code == 400
    assert not AccessLog.objects.filter(what="request statistics").exists()


def test_csv_holds_the_figures(world: World, client_for, requests_in_may: None) -> None:
    response = english(client_for(world.coordinator)).get(f"{URL}?{MAY}&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="requests-midden-2026-05.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = csv_rows(response, ",")
    assert rows[:3] == [["Overview"], ["Field", "Value"], ["Region", "Midden-Nederland"]]
    overview = {row[0]: row[1] for row in rows[2 : rows.index([])]}
    assert (overview["From"], overview["To"]) == ("2026-05-01", "2026-05-31")
    assert (overview["Requests"], overview["Answered or expired"], overview["Acceptance rate (%)"]) == (
        "11",
        "8",
        "50.0",
    )
    assert (overview["Median minutes to answer"], overview["90th percentile minutes to answer"]) == ("4.0", "8.8")
    assert (overview["Expired"], overview["Withdrawn before an answer"], overview["Still open"]) == ("1", "2", "1")
    per_location = rows[rows.index(["Per location"]) + 2 :]
    assert per_location[0] == ["WKZ Utrecht", "9", "3", "2", "1", "6", "50.0", "2", "1", "5", "6.0", "9.2"]
    assert per_location[1][:2] == ["Diakonessenhuis Utrecht", "2"]
    declines = rows[rows.index(["Declines per reason"]) + 1 :]
    assert declines[0] == [
        "Location",
        "no delivery room",
        "no staff",
        "no neonatal bed",
        "admission stop",
        "other",
        "Total",
    ]
    assert declines[1] == ["WKZ Utrecht", "1", "1", "0", "0", "0", "2"]
    assert declines[-1] == ["Total", "1", "1", "0", "1", "0", "3"]


def test_csv_follows_the_dutch_convention(world: World, client_for, requests_in_may: None) -> None:
    rows = csv_rows(client_for(world.coordinator).get(f"{URL}?{MAY}&format=csv"), ";")
    assert rows[:3] == [["Overzicht"], ["Gegeven", "Waarde"], ["Regio", "Midden-Nederland"]]
    assert ["Verzoeken", "11"] in rows
    assert any(row[:2] == ["WKZ Utrecht", "9"] and "9,2" in row for row in rows)  # a decimal comma


def test_xlsx_holds_the_figures(world: World, client_for, requests_in_may: None) -> None:
    from openpyxl import load_workbook

    response = english(client_for(world.coordinator)).get(f"{URL}?{MAY}&format=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == 'attachment; filename="requests-midden-2026-05.xlsx"'
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Overview", "Per location", "Declines per reason"]
    overview = {row[0].value: row[1] for row in book["Overview"].iter_rows(min_row=2)}
    assert overview["Requests"].value == 11 and overview["Acceptance rate (%)"].value == 50.0
    assert overview["From"].is_date and overview["Median minutes to answer"].number_format == "0.0"
    wkz = [c.value for c in next(book["Per location"].iter_rows(min_row=2))]
    assert wkz == ["WKZ Utrecht", 9, 3, 2, 1, 6, 50.0, 2, 1, 5, 6.0, 9.2]


def test_every_view_and_download_is_logged(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    c.get(f"{URL}?{MAY}")
    c.get("/statistics/midden/requests/?period=quarter&start=2026-05-12&format=xlsx")
    entries = list(
        AccessLog.objects.filter(what="request statistics").order_by("pk").values_list("action", "object_id", "scope")
    )
    assert entries == [
        ("view", "midden", "region=midden period=2026-05"),
        ("export", "midden", "region=midden period=2026-Q2 format=xlsx"),
    ]
