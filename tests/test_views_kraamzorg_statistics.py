"""/statistics/<region>/kraamzorg/: shortages per area and week, the vulnerable share, coverage, files."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from hospitals.models import VSV, AccessLog, Location, Organisation, Postcode, User
from kraamzorg import aggregation
from kraamzorg.models import IntakeWeek, Shortage, WorkArea
from kraamzorg.regional import this_monday
from kraamzorg.shortages import ShortageInput, shortage_register, shortage_withdraw
from tests.conftest import Kraamzorg, World

pytestmark = pytest.mark.django_db

URL = "/statistics/midden/kraamzorg/"


def english(c: Client) -> Client:
    c.cookies["django_language"] = "en"
    return c


def week(n: int) -> date:
    return this_monday() + timedelta(weeks=n)


def iso(n: int) -> str:
    return f"{week(n):%G-W%V}"


@pytest.fixture
def area(world: World, kz: Kraamzorg) -> dict[str, Organisation]:
    """Four postcode areas in three municipalities, served by two organisations of the region and one of another."""
    for pc4, municipality in (("3584", "Utrecht"), ("3585", "Utrecht"), ("3432", "Nieuwegein"), ("3991", "Houten")):
        Postcode.objects.create(pk=pc4, place=municipality, municipality=municipality, province="Utrecht",
                                latitude=52.08, longitude=5.17)  # fmt: skip
    leiden = Organisation.objects.create(
        name="Kraamzorg Synthetisch Leiden", kind=Organisation.Kind.KRAAMZORG, region=world.other_region
    )
    for org, pc4 in ((world.kraamzorg, "3584"), (world.kraamzorg, "3585"), (world.kraamzorg, "3432"),
                     (Organisation.objects.get(name="Kraamzorg Synthetisch Amersfoort"), "3584"),
                     (leiden, "3432")):  # fmt: skip
        WorkArea.objects.create(organisation=org, pc4=pc4)
    amersfoort = Organisation.objects.get(name__endswith="Amersfoort")
    return {"own": world.kraamzorg, "amersfoort": amersfoort, "leiden": leiden}


@pytest.fixture
def shortages(world: World, area: dict[str, Organisation]) -> None:
    def reg(n: int, pc4: str, due: int, promised: int, vulnerable: str) -> None:
        for _ in range(n):
            shortage_register(by=world.midwife, data=ShortageInput(
                pc4=pc4, due_week=week(due), indicated_hours=49, promised_hours=promised,
                reason=Shortage.Reason.STAFF, vulnerable=vulnerable))  # fmt: skip

    reg(3, "3584", 2, 24, "yes")
    reg(2, "3584", 2, 24, "no")
    reg(1, "3584", 2, 24, "unknown")  # Utrecht, week +2: 6 shortages, 150 h
    reg(1, "3585", 3, 0, "yes")  # Utrecht, week +3: 1, 49 h
    reg(5, "3584", 1, 40, "no")  # Utrecht, week +1: 5, 45 h
    reg(2, "3432", -1, 24, "no")  # Nieuwegein, week -1: 2, 50 h
    reg(5, "3432", 0, 24, "unknown")  # Nieuwegein, this week: 5, 125 h
    reg(1, "3991", 1, 24, "yes")  # Houten, week +1: 1, 25 h
    withdrawn = shortage_register(by=world.midwife, data=ShortageInput(
        pc4="3584", due_week=week(2), indicated_hours=49, promised_hours=0, reason="staff"))  # fmt: skip
    shortage_withdraw(shortage_id=withdrawn.pk, by=world.midwife, expected_version=1)
    west = Organisation.objects.create(
        name="Praktijk Leiden", kind=Organisation.Kind.MIDWIFERY_PRACTICE, region=world.other_region
    )
    west_midwife = User.objects.create_user(username="midwife_west", role=User.Role.MIDWIFE, organisation=west)
    shortage_register(by=west_midwife, data=ShortageInput(
        pc4="3584", due_week=week(2), indicated_hours=49, promised_hours=0, reason="staff"))  # fmt: skip
    aggregation.sweep()


@pytest.fixture
def intake(area: dict[str, Organisation]) -> None:
    stale = timezone.now() - timedelta(days=8)

    def put(org: str, n: int, status: str, families: int, confirmed: Any = None) -> None:
        IntakeWeek.objects.create(
            organisation=area[org], week=week(n), status=status, families=families, hours="full",
            reason="" if status == "open" else "staff", confirmed_at=confirmed or timezone.now(),
        )  # fmt: skip

    put("own", 0, "open", 3)
    put("own", 1, "stop", 0)
    put("own", 2, "open", 2, confirmed=stale)
    put("own", 3, "limited", 0)
    put("amersfoort", 0, "stop", 0)
    put("amersfoort", 1, "stop", 0)
    put("leiden", 0, "open", 1)


def grid_row(result: Any, area: str) -> dict[date, tuple[str, int | None]]:
    row = next(r for r in result.rows if r.area == area)
    return {w: (f.cell.shown, f.hours_shown) for w, f in zip(result.weeks, row.cells, strict=True) if f.cell.count}


def test_a_coordinator_sees_exact_figures_per_municipality_and_week(
    world: World, client_for: Any, shortages: None
) -> None:
    response = english(client_for(world.coordinator)).get(URL)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.suppressed
    assert (result.first, result.last) == (week(-13), week(11)) and len(result.weeks) == 25
    assert [r.area for r in result.rows] == ["Houten", "Nieuwegein", "Utrecht"]
    assert grid_row(result, "Utrecht") == {week(1): ("5", 45), week(2): ("6", 150), week(3): ("1", 49)}
    assert grid_row(result, "Nieuwegein") == {week(-1): ("2", 50), week(0): ("5", 125)}
    assert grid_row(result, "Houten") == {week(1): ("1", 25)}
    assert (result.total.cell.count, result.total.hours) == (20, 444)  # the withdrawn one and west's are not
    assert [f.cell.count for f in result.week_totals][13:17] == [5, 6, 6, 1]
    assert result.average_hours_short == 22.2
    # yes 5, no 9, unknown 6: the share of yes among the known, 5 of 14.
    assert [(c.key, c.shown) for c in result.vulnerable] == [("yes", "5"), ("no", "9"), ("unknown", "6")]
    assert result.vulnerable_share == 36
    body = response.content.decode()
    assert "36% of the shortages where it is known" in body
    assert '<th scope="col" class="num"><abbr title="due week from' in body
    assert '<th scope="row"><a href="?municipality=Utrecht">Utrecht</a></th>' in body
    assert '6 <span class="kz-hours">(150' in body


def test_drilling_into_a_municipality_shows_its_postcode_areas(world: World, client_for: Any, shortages: None) -> None:
    response = client_for(world.coordinator).get(URL, {"municipality": "Utrecht", "first": iso(0), "last": iso(4)})
    assert response.status_code == 200
    result = response.context["result"]
    assert result.weeks == [week(n) for n in range(5)]
    assert [r.area for r in result.rows] == ["3584", "3585"]
    assert grid_row(result, "3584") == {week(1): ("5", 45), week(2): ("6", 150)}
    assert grid_row(result, "3585") == {week(3): ("1", 49)}
    assert [r.area for r in result.coverage.rows] == ["3584", "3585"]
    assert 'href="?first=' in response.content.decode()  # back to all municipalities, same weeks


def test_others_than_the_regions_coordinators_see_small_numbers_suppressed(
    world: World, client_for: Any, shortages: None
) -> None:
    response = client_for(world.national_admin).get(URL)
    result = response.context["result"]
    assert result.suppressed
    totals = {r.area: r.total.cell.shown for r in result.rows}
    # Houten's 1 is suppressed, and Nieuwegein's 7 with it (the grand total would give Houten away).
    assert totals == {"Houten": "<5", "Nieuwegein": "<5", "Utrecht": "12"}
    assert grid_row(result, "Nieuwegein") == {week(-1): ("<5", None), week(0): ("<5", None)}  # its total is hidden
    # Utrecht's 1 is suppressed, and the 5 beside it; the 6 is shown, with its hours.
    assert grid_row(result, "Utrecht") == {week(1): ("<5", None), week(2): ("6", 150), week(3): ("<5", None)}
    assert result.total.cell.shown == "20" and not result.week_totals_shown
    assert result.vulnerable_share == 36  # 5, 9 and 6: none small
    body = response.content.decode()
    assert "Small numbers suppressed." in body or "&lt;5" in body
    tfoot = body.split("<tfoot>")[1].split("</tfoot>")[0]
    assert "&lt;5" not in tfoot and ">6<" not in tfoot  # no week totals

    export = client_for(world.national_admin).get(URL, {"format": "csv"})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    houten = [row for row in rows if row and row[0] == "Houten"]
    assert houten and all(v in ("0", "<5", "") for row in houten for v in row[1:])


def test_the_vulnerable_share_is_left_out_when_it_would_come_from_a_suppressed_count(
    world: World, client_for: Any, area: dict[str, Organisation]
) -> None:
    for vulnerable in ["yes"] * 2 + ["no"] * 6:
        shortage_register(by=world.midwife, data=ShortageInput(
            pc4="3584", due_week=week(1), indicated_hours=49, promised_hours=24, reason="staff",
            vulnerable=vulnerable))  # fmt: skip
    aggregation.sweep()
    admin = client_for(world.national_admin).get(URL).context["result"]
    assert [c.shown for c in admin.vulnerable] == ["<5", "<5", "0"] and admin.vulnerable_share is None
    own = client_for(world.coordinator).get(URL).context["result"]
    assert [c.shown for c in own.vulnerable] == ["2", "6", "0"] and own.vulnerable_share == 25


def test_the_coverage_map_counts_organisations_with_room(world: World, client_for: Any, intake: None) -> None:
    response = english(client_for(world.coordinator)).get(URL)
    cov = response.context["result"].coverage
    assert cov.weeks == [week(n) for n in range(12)]
    rows = {r.area: r for r in cov.rows}
    assert set(rows) == {"Nieuwegein", "Utrecht"}  # Houten has shortages but no organisation serves it
    utrecht, nieuwegein = rows["Utrecht"], rows["Nieuwegein"]
    assert utrecht.organisations == 2 and nieuwegein.organisations == 2  # Leiden's organisation serves 3432 too

    def cells(row: Any, n: int) -> list[tuple[int, int, int, str]]:
        return [(c.room, c.no_room, c.unknown, c.state) for c in row.cells[:n]]

    # Utrecht: room / both stop / stale and missing / limited without families and missing.
    assert cells(utrecht, 5) == [(1, 1, 0, "room"), (0, 2, 0, "none"), (0, 0, 2, "unknown"), (0, 1, 1, "unknown"),
                                 (0, 0, 2, "unknown")]  # fmt: skip
    assert cells(nieuwegein, 2) == [(2, 0, 0, "room"), (0, 1, 1, "unknown")]
    body = response.content.decode()
    assert '<td class="kz-room"><span class="kz-symbol" aria-hidden="true">●</span> 1/2' in body
    assert '<td class="kz-none"><span class="kz-symbol" aria-hidden="true">✕</span> 0/2' in body
    assert "0/2 (2?)" in body
    assert "at least one organisation has intake room" in body  # the legend in words
    drilled = client_for(world.coordinator).get(URL, {"municipality": "Utrecht"}).context["result"].coverage
    assert [(r.area, r.organisations, r.cells[1].state) for r in drilled.rows] == [
        ("3584", 2, "none"),
        ("3585", 1, "none"),
    ]


def test_the_csv_is_dutch_excel_and_parses_back(world: World, client_for: Any, shortages: None, intake: None) -> None:
    response = client_for(world.coordinator).get(URL, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="kraamzorg-midden-{iso(-13)}-{iso(11)}.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    header = next(row for row in rows if len(row) > 20)
    assert header[1:3] == [iso(-13), iso(-12)] and len(header) == 27
    utrecht = [row for row in rows if row and row[0] == "Utrecht"]
    assert utrecht[0][15:17] == ["5", "6"] and utrecht[0][-1] == "12"  # counts (weeks +1, +2), total
    assert utrecht[1][15:17] == ["45", "150"] and utrecht[1][-1] == "244"  # hours short
    assert ["22,2"] in [row[1:] for row in rows if len(row) == 2]  # hours per shortage, with a decimal comma
    coverage = [row for row in rows if row and row[0] == "Utrecht" and len(row) == 14]
    assert coverage == [["Utrecht", "2", "1/2", "0/2", "0/2 (2?)", "0/2 (1?)", *["0/2 (2?)"] * 8]]

    en = english(client_for(world.coordinator)).get(URL, {"format": "csv"})
    assert ["Hours short per shortage", "22.2"] in list(csv.reader(io.StringIO(en.content.decode("utf-8-sig"))))


def test_the_xlsx_parses_back_with_numbers(world: World, client_for: Any, shortages: None, intake: None) -> None:
    response = english(client_for(world.coordinator)).get(URL, {"format": "xlsx"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Overview", "Shortages per week", "Hours short per week", "Vulnerable situation", "Per reason", "Coverage",
    ]  # fmt: skip
    sheet = book["Shortages per week"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == iso(-13)
    utrecht = next(r for r in rows if r[0] == "Utrecht")
    assert utrecht[15:17] == (5, 6) and utrecht[-1] == 12
    overview = {r[0]: r[1] for r in book["Overview"].iter_rows(values_only=True)}
    assert overview["Shortages"] == 20 and overview["Hours short"] == 444
    assert overview["From due week"].date() == week(-13)
    assert {r[0]: r[1] for r in book["Vulnerable situation"].iter_rows(values_only=True)}["yes"] == 5
    coverage = list(book["Coverage"].iter_rows(values_only=True))
    assert coverage[1][:3] == ("Nieuwegein", 2, "2/2")


def test_suppressed_files_say_so(world: World, client_for: Any, shortages: None) -> None:
    response = english(client_for(world.national_admin)).get(URL, {"format": "xlsx"})
    book = load_workbook(io.BytesIO(response.content))
    overview = {r[0]: r[1] for r in book["Overview"].iter_rows(values_only=True)}
    assert overview["Small numbers"] == "counts under 5 are shown as <5"
    houten = next(r for r in book["Shortages per week"].iter_rows(values_only=True) if r[0] == "Houten")
    assert "<5" in houten and 1 not in houten[1:]


def test_views_and_files_are_logged(world: World, client_for: Any, shortages: None) -> None:
    c = client_for(world.coordinator)
    before = AccessLog.objects.count()
    assert c.get(URL, {"municipality": "Utrecht"}).status_code == 200
    assert c.get(URL, {"format": "csv"}).status_code == 200
    entries = list(AccessLog.objects.order_by("pk")[before:])
    assert [(e.action, e.what, e.object_id) for e in entries] == [
        (AccessLog.Action.VIEW, "kraamzorg statistics", "midden"),
        (AccessLog.Action.EXPORT, "kraamzorg statistics", "midden"),
    ]
    assert "municipality=Utrecht" in entries[0].scope and "format=csv" in entries[1].scope


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"first": "2026-W99"}, "first"),
        ({"first": "next week"}, "first"),
        ({"first": "1999-W01"}, "first"),
        ({"first": "2026-W10", "last": "2026-W09"}, "last"),
        ({"first": "2025-W01", "last": "2026-W30"}, "last"),
        ({"municipality": "Atlantis"}, "municipality"),
    ],
)
def test_bad_input_is_400_with_the_message_at_the_field(
    world: World, client_for: Any, area: dict[str, Organisation], query: dict[str, str], field: str
) -> None:
    response = client_for(world.coordinator).get(URL, {**query, "format": "csv"})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    body = response.content.decode()
    assert f'id="id_{field}-error"' in body and f'aria-describedby="id_{field}' in body


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role", "planner"])
def test_others_are_refused(world: World, client_for: Any, persona: str) -> None:
    user = world.planner if persona == "planner" else world.personas()[persona]
    c = client_for(user)
    assert c.get(URL).status_code == 403
    assert c.get(URL, {"format": "csv"}).status_code == 403
    assert c.get(URL, {"format": "xlsx"}).status_code == 403


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL, {"format": "csv"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_coordinator_only_for_their_own_region_national_admins_for_all(world: World, client_for: Any) -> None:
    assert client_for(world.coordinator).get("/statistics/west/kraamzorg/").status_code == 403
    assert client_for(world.coordinator).get("/statistics/atlantis/kraamzorg/").status_code == 404
    assert client_for(world.national_admin).get("/statistics/west/kraamzorg/").status_code == 200


def test_only_get(world: World, client_for: Any) -> None:
    assert client_for(world.coordinator).post(URL).status_code == 405


def test_the_refusal_statistics_link_to_the_page(world: World, client_for: Any) -> None:
    body = client_for(world.coordinator).get("/statistics/midden/").content.decode()
    assert 'href="/statistics/midden/kraamzorg/"' in body


def test_a_vsv_sees_the_postcode_areas_nearest_to_its_locations(
    world: World, client_for: Any, shortages: None, intake: None
) -> None:
    east = VSV.objects.create(name="VSV Utrecht-Oost", region=world.region)
    west = VSV.objects.create(name="VSV Utrecht-West", region=world.region)
    Location.objects.filter(pk=world.location.pk).update(vsv=east)  # 52.087, 5.18
    Location.objects.filter(pk=world.other_location.pk).update(vsv=west)  # 52.08, 5.14
    Postcode.objects.filter(pk__in=["3584", "3585"]).update(latitude=52.087, longitude=5.19)
    Postcode.objects.filter(pk__in=["3432", "3991"]).update(latitude=52.08, longitude=5.12)
    client = english(client_for(world.coordinator))
    result = client.get(URL, {"vsv": east.pk}).context["result"]
    assert [r.area for r in result.rows] == ["Utrecht"]
    assert (result.total.cell.count, result.total.hours) == (12, 244)
    assert [r.area for r in result.coverage.rows] == ["Utrecht"]
    assert result.vsv == "VSV Utrecht-Oost"
    result = client.get(URL, {"vsv": west.pk}).context["result"]
    assert [r.area for r in result.rows] == ["Houten", "Nieuwegein"]
    assert [r.area for r in result.coverage.rows] == ["Nieuwegein"]  # Houten has shortages, no work area
    # The file says which VSV (English: comma-separated); a VSV of another region is refused at the field.
    text = client.get(URL, {"vsv": str(east.pk), "format": "csv"}).content.decode("utf-8-sig")
    assert ["VSV", "VSV Utrecht-Oost"] in list(csv.reader(io.StringIO(text)))
    elsewhere = VSV.objects.create(name="VSV Leiden", region=world.other_region)
    response = client.get(URL, {"vsv": elsewhere.pk})
    assert response.status_code == 400 and "Choose one of the VSVs of this region." in response.content.decode()
    assert AccessLog.objects.filter(what="kraamzorg statistics", scope__contains=f"vsv={east.pk}").exists()
