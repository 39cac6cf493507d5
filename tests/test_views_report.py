"""The printable quarterly report: refusals and admission stops per region and quarter."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from refusals import aggregation
from refusals.aggregation import ZONE
from refusals.models import Alert
from refusals.statistics import Period
from tests.conftest import World
from tests.test_statistics import make_refusal, stop_event

URL = "/statistics/midden/report/"


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


@pytest.fixture
def quarters(world: World) -> tuple[Period, Period]:
    """Refusals and stops in the last full quarter and the one before it."""
    q = Period.last_full_quarter(timezone.localdate())
    p = q.previous()
    make_refusal(world, at(q.start))
    make_refusal(world, at(q.start + timedelta(days=3)), reason="no_staff", board_showed_room=True)
    make_refusal(world, at(q.start + timedelta(days=5)), location=world.other_location, care_type="begeleiding")
    make_refusal(world, at(q.start + timedelta(days=6)), withdrawn_at=timezone.now())  # not counted
    make_refusal(world, at(p.start))
    make_refusal(world, at(p.start + timedelta(days=1)), location=world.other_location)
    make_refusal(world, at(p.start + timedelta(days=2)), location=world.other_location)
    make_refusal(world, at(q.start), location=world.far_location, region=world.other_region)  # another region
    aggregation.rebuild()
    stop_event(world.other_unit, at(q.start + timedelta(days=10), 8), "open", "stop")
    stop_event(world.other_unit, at(q.start + timedelta(days=10), 11), "stop", "open")
    Alert.objects.create(
        kind="location_spike",
        key="spike:location:x",
        region=world.region,
        location=world.location,
        count=3,
        detail={"window_hours": 6},
        raised_at=at(q.start + timedelta(days=3)),
        ended_at=at(q.start + timedelta(days=4)),
    )
    return q, p


def value(q: Period) -> str:
    return f"{q.start.year}-Q{(q.start.month - 1) // 3 + 1}"


def test_report_compares_with_the_previous_quarter(world: World, client_for, quarters: tuple[Period, Period]) -> None:
    q, p = quarters
    response = client_for(world.coordinator).get(f"{URL}?quarter={value(q)}")
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.current.total, report.previous.total, report.current.board_showed_room) == (3, 3, 1)
    rows = {r["name"]: r for r in report.locations}
    assert rows["WKZ Utrecht"] | {} == {
        "name": "WKZ Utrecht",
        "count": 2,
        "previous": 1,
        "change": 1,
        "room": 1,
        "stops": 0,
        "stop_hours": 0,
    }
    assert rows["Diakonessenhuis Utrecht"] == {
        "name": "Diakonessenhuis Utrecht",
        "count": 1,
        "previous": 2,
        "change": -1,
        "room": 0,
        "stops": 1,
        "stop_hours": 3.0,
    }
    assert "LUMC Leiden" not in rows
    reasons = {r["key"]: (r["count"], r["previous"], r["change"]) for r in report.reasons}
    assert reasons["no_staff"] == (1, 0, 1) and reasons["no_delivery_room"] == (2, 3, -1)
    care = {r["key"]: (r["count"], r["previous"]) for r in report.care_types}
    assert care == {"begeleiding": (1, 0), "overdracht": (2, 3)}
    assert (report.stops_started, report.stop_hours) == (1, 3.0)
    assert [a.count for a in report.alerts] == [3]

    body = response.content.decode()
    assert "Kwartaalrapportage weigeringen en opnamestops" in body and q.label in body and p.label in body
    assert '<th scope="row">Diakonessenhuis Utrecht</th>' in body and "▼</span> -1" in body
    assert "3 weigeringen door WKZ Utrecht binnen 6 uur." in body and "nog niet" in body
    assert "data-print" in body and "@media print" not in body  # print layout lives in app.css


def test_default_is_the_last_full_quarter_and_english_works(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    report = c.get(URL).context["report"]
    assert report.current.period == Period.last_full_quarter(timezone.localdate())
    c.cookies["django_language"] = "en"
    assert "Quarterly report on refusals and admission stops" in c.get(URL).content.decode()


def test_the_running_quarter_is_marked_provisional_and_not_the_default(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    today = timezone.localdate()
    running, last = Period.containing("quarter", today), Period.last_full_quarter(today)
    page = c.get(URL).content.decode()
    # The picker shows the last complete quarter selected; the running one is there, marked.
    assert f'<option value="{value(last)}" selected>{last.label}</option>' in page
    assert f'<option value="{value(running)}">{running.label} (lopend, voorlopig)</option>' in page
    assert "Voorlopig" not in page
    report = c.get(URL, {"quarter": value(running)})
    body = report.content.decode()
    done = running.days_done(today)
    assert f"{done} van {running.days} dagen tot nu toe" in body and "<strong>Voorlopig</strong>" in body
    compared = report.context["report"].previous.period
    assert compared == running.previous().first_days(done)
    if not compared.whole:  # (on a quarter's last day the whole previous quarter is compared)
        assert f"eerste {compared.days} dag" in body


@pytest.mark.parametrize("quarter", ["2026", "2026-Q5", "Q1-2026", "1990-Q1", "<script>"])
def test_bad_quarter_is_400_with_the_message_at_the_field(world: World, client_for, quarter: str) -> None:
    response = client_for(world.coordinator).get(URL, {"quarter": quarter})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Kies een van de kwartalen uit de lijst." in body and 'aria-describedby="id_quarter-error"' in body
    assert "<script>" not in body.split("<main", 1)[1].split("</main>")[0].replace("<script src=", "")


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_others_are_refused(world: World, client_for, persona: str) -> None:
    assert client_for(world.personas()[persona]).get(URL).status_code == 403


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_coordinator_only_own_region_national_admin_all(world: World, client_for) -> None:
    assert client_for(world.coordinator).get("/statistics/west/report/").status_code == 403
    assert client_for(world.coordinator).get("/statistics/atlantis/report/").status_code == 404
    assert client_for(world.national_admin).get("/statistics/west/report/").status_code == 200


def test_statistics_page_links_to_the_report_of_its_quarter(world: World, client_for) -> None:
    body = client_for(world.coordinator).get("/statistics/midden/?period=month&start=2026-02-10").content.decode()
    assert 'href="/statistics/midden/report/?quarter=2026-Q1"' in body


def test_the_report_has_the_refusals_per_vsv(world: World, client_for, quarters: tuple[Period, Period]) -> None:
    from hospitals.models import VSV

    q, _p = quarters
    world.location.vsv = VSV.objects.create(name="VSV Utrecht", region=world.region)
    world.location.save()
    response = client_for(world.coordinator).get(f"{URL}?quarter={value(q)}")
    vsvs = {r["name"]: (r["count"], r["previous"], r["change"]) for r in response.context["report"].vsvs}
    assert vsvs == {"VSV Utrecht": (2, 1, 1), "geen VSV bekend": (1, 2, -1)}
    assert 'id="rep-vsv"' in response.content.decode()


def test_the_report_has_the_kraamzorg_shortages_of_its_due_weeks_and_the_coverage(world: World, client_for) -> None:
    from hospitals.models import Postcode
    from kraamzorg import aggregation as kraamzorg_aggregation
    from kraamzorg.models import IntakeWeek, WorkArea
    from kraamzorg.regional import this_monday
    from kraamzorg.shortages import ShortageInput, shortage_register
    from refusals.kraamzorg_statistics import quarter_weeks

    for pc4, municipality in (("3584", "Utrecht"), ("3432", "Nieuwegein")):
        Postcode.objects.create(pk=pc4, place=municipality, municipality=municipality, province="Utrecht",
                                latitude=52.08, longitude=5.17)  # fmt: skip
        WorkArea.objects.create(organisation=world.kraamzorg, pc4=pc4)
    IntakeWeek.objects.create(organisation=world.kraamzorg, week=this_monday(), families=2, hours="full", status="open")
    current = Period.containing("quarter", timezone.localdate())
    first, last = quarter_weeks(current)
    next_quarter = last + timedelta(weeks=1)
    for pc4, due, n in (("3584", last, 6), ("3432", last, 1), ("3584", next_quarter, 3)):
        for _ in range(n):
            shortage_register(by=world.midwife, data=ShortageInput(
                pc4=pc4, due_week=due, indicated_hours=49, promised_hours=24, reason="staff"))  # fmt: skip
    kraamzorg_aggregation.sweep()

    c = client_for(world.coordinator)
    c.cookies["django_language"] = "en"
    response = c.get(URL, {"quarter": value(current)})
    assert response.status_code == 200
    figures = response.context["kraamzorg"]
    assert (figures.first, figures.last, figures.suppressed) == (first, last, False)
    assert {r.area: r.total.cell.shown for r in figures.rows} == {"Nieuwegein": "1", "Utrecht": "6"}
    assert (figures.total.cell.count, figures.total.hours) == (7, 175)
    body = response.content.decode()
    section = body.split('id="rep-kraamzorg"')[1]
    assert "Shortages per due week" in section and "Coverage in the coming 12 weeks" in section
    assert '<td class="kz-room"><span class="kz-symbol" aria-hidden="true">●</span> 1/1' in section
    assert 'href="?municipality=' not in section  # no drill-down links in print

    admin = client_for(world.national_admin).get(URL, {"quarter": value(current)}).context["kraamzorg"]
    assert admin.suppressed
    assert {r.area: r.total.cell.shown for r in admin.rows} == {"Nieuwegein": "<5", "Utrecht": "<5"}
