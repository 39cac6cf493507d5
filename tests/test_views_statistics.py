"""The statistics page: who may see it, filters, bad input, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from refusals import aggregation
from refusals.models import Refusal
from refusals.services import RefusalInput, refusal_register
from tests.conftest import World

URL = "/statistics/midden/"


def register(world: World, **kw: Any) -> Refusal:
    values: dict[str, Any] = {
        "occurred_at": timezone.now() - timedelta(minutes=29),
        "location_id": world.location.pk,
        "care_type": "overdracht",
        "reason": "no_delivery_room",
        "outcome": "home",
    }
    values.update(kw)
    return refusal_register(by=world.midwife, data=RefusalInput(**values))


@pytest.fixture
def refusals(world: World, django_capture_on_commit_callbacks: Any) -> list[Refusal]:
    with django_capture_on_commit_callbacks(execute=True):
        made = [
            register(world),
            register(world, reason="no_staff"),
            register(world, location_id=world.other_location.pk, care_type="begeleiding"),
        ]
    aggregation.rebuild()  # as the worker or the sweep would
    return made


def this_week() -> str:
    day = timezone.localtime(timezone.now() - timedelta(minutes=30)).date()  # when the fixture's refusals happened
    return f"period=week&start={day.isoformat()}"


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_others_are_refused(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get("/statistics/").status_code == 403
    assert c.get(URL).status_code == 403
    assert c.get(f"{URL}?format=csv").status_code == 403


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_coordinator_sees_only_own_region(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    response = c.get("/statistics/")
    assert response.status_code == 302 and response["Location"] == URL
    assert c.get(URL).status_code == 200
    assert c.get("/statistics/west/").status_code == 403
    assert c.get("/statistics/nowhere/").status_code == 404


def test_national_admin_chooses_a_region(world: World, client_for) -> None:
    c = client_for(world.national_admin)
    body = c.get("/statistics/").content.decode()
    assert 'href="/statistics/midden/"' in body and 'href="/statistics/west/"' in body
    assert c.get("/statistics/west/").status_code == 200


def test_nav_link_only_for_coordinators_and_national_admins(world: World, client_for) -> None:
    assert 'href="/statistics/"' in client_for(world.coordinator).get("/board/").content.decode()
    assert 'href="/statistics/"' not in client_for(world.midwife).get("/board/").content.decode()


def test_default_period_is_last_full_quarter(world: World, client_for) -> None:
    stats = client_for(world.coordinator).get(URL).context["stats"]
    assert stats.period.kind == "quarter" and stats.period.end <= timezone.localdate()
    assert stats.period.end > timezone.localdate() - timedelta(days=93)


def test_totals_and_tables(world: World, client_for, refusals: list[Refusal]) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{this_week()}")
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats.total == Refusal.objects.filter(region=world.region, withdrawn_at__isnull=True).count() == 3
    assert {r["name"]: r["count"] for r in stats.per_location} == {"WKZ Utrecht": 2, "Diakonessenhuis Utrecht": 1}
    assert sum(row["total"] for row in stats.heatmap) == 3
    body = response.content.decode()
    assert "<caption>" in body and '<th scope="row">WKZ Utrecht</th>' in body
    assert 'id="stats-data"' in body and "vendor/chartjs/chart.umd.min.js" in body and "js/stats.js" in body


@pytest.mark.parametrize(
    ("query", "total"),
    [("reason=no_staff", 1), ("care_type=begeleiding", 1), ("reason=no_delivery_room&care_type=overdracht", 1)],
)
def test_filters(world: World, client_for, refusals: list[Refusal], query: str, total: int) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{this_week()}&{query}")
    assert response.status_code == 200 and response.context["stats"].total == total


def test_location_filter(world: World, client_for, refusals: list[Refusal]) -> None:
    c = client_for(world.coordinator)
    response = c.get(f"{URL}?{this_week()}&location={world.other_location.pk}&reason=no_delivery_room")
    assert response.context["stats"].total == 1
    assert "Gefilterd op: Diakonessenhuis Utrecht · geen verloskamer" in response.content.decode()
    # A location of another region is not a valid choice.
    assert c.get(f"{URL}?{this_week()}&location={world.far_location.pk}").status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=year", "period"),
        ("start=gisteren", "start"),
        ("start=2999-01-01", "start"),
        ("location=abc", "location"),
        ("location=999999", "location"),
        ("reason=weather", "reason"),
        ("care_type=x", "care_type"),
    ],
)
def test_bad_input_is_400_with_field_errors(world: World, client_for, query: str, field: str) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f'id="id_{field}-error"' in response.content.decode()
    assert client_for(world.coordinator).get(f"{URL}?{query}&format=csv").status_code == 400


def csv_rows(response: Any, delimiter: str = ";") -> list[list[str]]:
    """Dutch CSV: semicolons between fields (the list separator of Dutch Excel)."""
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=delimiter))


def section(rows: list[list[str]], header: list[str]) -> dict[str, list[str]]:
    """The rows under a header row, up to the next empty row, keyed by their first cell."""
    at = rows.index(header) + 1
    out: dict[str, list[str]] = {}
    while at < len(rows) and rows[at]:
        out[rows[at][0]] = rows[at][1:]
        at += 1
    return out


def test_csv_export(world: World, client_for, refusals: list[Refusal]) -> None:
    response = client_for(world.coordinator).get(f"{URL}?{this_week()}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="refusals-midden-')
    assert response.content.startswith("\ufeff".encode())
    rows = csv_rows(response)
    assert rows[:3] == [["Overzicht"], ["Gegeven", "Waarde"], ["Regio", "Midden-Nederland"]]
    assert ["Weigeringen", "3"] in rows
    stats = client_for(world.coordinator).get(f"{URL}?{this_week()}").context["stats"]
    assert ["Vorige periode", stats.compared.title] in rows and ["Een jaar eerder", stats.year_earlier.title] in rows
    assert (["Voorlopig", f"{stats.days_done} / 7"] in rows) == stats.provisional
    room = str(sum(r.board_showed_room for r in refusals if r.location_id == world.location.pk))
    assert section(rows, ["Locatie", "Weigeringen", "Terwijl het bord ruimte toonde"])["WKZ Utrecht"] == ["2", room]
    reasons = section(rows, ["Reden", "Weigeringen"])
    assert reasons["geen personeel"] == ["1"] and reasons["geen verloskamer"] == ["2"]
    heat = section(rows, ["Weekdag", *[f"{h:02d}" for h in range(24)], "Totaal"])
    assert sum(int(v[-1]) for v in heat.values()) == 3

    filtered = client_for(world.coordinator).get(f"{URL}?{this_week()}&reason=no_staff&format=csv")
    rows = csv_rows(filtered)
    assert ["Weigeringen", "1"] in rows and ["Reden", "geen personeel"] in rows
    assert list(section(rows, ["Locatie", "Weigeringen", "Terwijl het bord ruimte toonde"])) == ["WKZ Utrecht"]


def test_csv_follows_the_language_convention(world: World, client_for, refusals: list[Refusal]) -> None:
    from django.utils import translation

    from refusals import exports

    c = client_for(world.coordinator)
    c.cookies["django_language"] = "en"
    rows = csv_rows(c.get(f"{URL}?{this_week()}&format=csv"), delimiter=",")
    assert rows[:3] == [["Overview"], ["Field", "Value"], ["Region", "Midden-Nederland"]]
    assert ["Refusals", "3"] in rows
    # Hours: a decimal comma in Dutch, a decimal point in English; dates ISO 8601 in both.
    with translation.override("nl"):
        assert exports._csv_cell(12.5) == "12,5"
    with translation.override("en"):
        assert exports._csv_cell(12.5) == "12.5"
    assert exports._csv_cell(date(2026, 10, 1)) == "2026-10-01"


def test_a_running_period_says_it_is_provisional(world: World, client_for, refusals: list[Refusal]) -> None:
    today = timezone.localdate()
    running = client_for(world.coordinator).get(f"{URL}?period=month&start={today.isoformat()}")
    stats = running.context["stats"]
    body = running.content.decode()
    assert f"{stats.days_done} van {stats.period.days} dagen tot nu toe" in body or not stats.provisional
    assert "Een jaar eerder (" in body
    past = client_for(world.coordinator).get(
        f"{URL}?period=month&start={(today.replace(day=1) - timedelta(days=1)).isoformat()}"
    )
    assert "<strong>Voorlopig</strong>" not in past.content.decode()


def test_withdrawn_refusal_leaves_the_statistics(
    world: World, client_for, refusals: list[Refusal], django_capture_on_commit_callbacks: Any
) -> None:
    from refusals.services import refusal_withdraw

    with django_capture_on_commit_callbacks(execute=True):
        refusal_withdraw(refusal_id=refusals[0].pk, by=world.midwife, expected_version=1)
    aggregation.rebuild()
    stats = client_for(world.coordinator).get(f"{URL}?{this_week()}").context["stats"]
    assert stats.total == 2


def test_xlsx_export(world: World, client_for, refusals: list[Refusal]) -> None:
    from openpyxl import load_workbook

    response = client_for(world.coordinator).get(f"{URL}?{this_week()}&format=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith('attachment; filename="refusals-midden-')
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Overzicht",
        "Per locatie",
        "Per VSV",
        "Per reden",
        "Per soort zorg",
        "Weekdag en uur",
        "Opnamestops",
    ]
    overview = {row[0].value: row[1] for row in book["Overzicht"].iter_rows(min_row=2)}
    assert overview["Regio"].value == "Midden-Nederland" and overview["Weigeringen"].value == 3
    period = client_for(world.coordinator).get(f"{URL}?{this_week()}").context["stats"].period
    # Real dates (a date cell with a date format), not text.
    assert overview["Van"].is_date and overview["Van"].value.date() == period.start
    assert overview["Tot en met"].value.date() == period.last_day and overview["Van"].number_format == "dd-mm-yyyy"
    reasons = {row[0]: row[1] for row in book["Per reden"].iter_rows(min_row=2, values_only=True)}
    assert reasons["geen personeel"] == 1 and book["Per reden"]["A1"].value == "Reden"
    assert book["Per reden"]["B2"].data_type == "n" and book["Per reden"]["B2"].number_format == "0"
    assert client_for(world.midwife).get(f"{URL}?format=xlsx").status_code == 403


def test_live_refresh_fetches_just_the_figures_for_the_same_view(
    world: World, client_for, refusals: list[Refusal]
) -> None:
    c = client_for(world.coordinator)
    page = c.get(f"{URL}?{this_week()}&reason=no_staff").content.decode()
    # The page listens on its region's socket and re-fetches itself into #stats-body.
    assert 'ws-connect="/ws/statistics/midden/?lang=nl"' in page
    assert f'id="stats-body" hx-get="{URL}?{this_week().replace("&", "&amp;")}&amp;reason=no_staff"' in page
    assert 'role="status" aria-live="polite"' in page

    response = c.get(f"{URL}?{this_week()}&reason=no_staff", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stats-body")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and "<form" not in body
    assert 'data-stats-total="1"' in body and "Nieuwe cijfers om" in body and 'id="stats-data"' in body
    assert "HX-Request" in response["Vary"]
    # A refusal counted since: the next re-fetch shows it.
    register(world, reason="no_staff")
    aggregation.sweep()
    again = c.get(f"{URL}?{this_week()}&reason=no_staff", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stats-body")
    assert 'data-stats-total="2"' in again.content.decode()


def test_live_refresh_is_checked_like_the_page(world: World, client_for) -> None:
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "stats-body"}
    assert client_for(world.midwife).get(URL, **headers).status_code == 403
    assert client_for(world.coordinator).get("/statistics/west/", **headers).status_code == 403
