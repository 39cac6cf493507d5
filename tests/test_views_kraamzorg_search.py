"""The search page's kraamzorg tab: who may look, what an entry says, bad input per field, the link
from the capacity search, and the call link (only where a number is known)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from hospitals.models import Organisation, User
from kraamzorg.models import IntakeWeek, WorkArea
from kraamzorg.selectors import IntakeOption, due_week_range, intake_fingerprint
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from tests.conftest import World
from tests.search_world import make_postcodes, make_search_world

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
PAGE = reverse("search:kraamzorg")
RESULTS = reverse("search:kraamzorg_results")
SEARCHERS = ["midwife", "coordinator", "org_admin", "national_admin"]
REFUSED = ["staff", "other_staff", "no_role", "planner"]


@pytest.fixture
def area(world: World) -> World:
    """Postcodes, and three kraamzorg organisations serving 3584 (one also 3511)."""
    make_postcodes()
    WorkArea.objects.create(organisation=world.kraamzorg, pc4="3584")
    return world


def org(world: World, name: str, *pc4s: str) -> Organisation:
    organisation = Organisation.objects.create(name=name, kind=Organisation.Kind.KRAAMZORG, region=world.region)
    WorkArea.objects.bulk_create([WorkArea(organisation=organisation, pc4=p) for p in pc4s])
    return organisation


def fill(organisation: Organisation, week: date, **figures: object) -> IntakeWeek:
    planner, _ = User.objects.get_or_create(
        username=f"planner-{organisation.pk}",
        defaults={"role": User.Role.KRAAMZORG_PLANNER, "organisation": organisation},
    )
    values: dict[str, object] = {"families": 3, "hours": "full", "status": "open", **figures}
    return intake_week_set(
        by=planner,
        organisation_id=organisation.pk,
        week=week,
        change=IntakeChange(**values),  # type: ignore[arg-type]
        expected_version=0,
    )


@pytest.fixture
def midwife(world: World, client_for: Login) -> Client:
    client = client_for(world.midwife)
    client.cookies["django_language"] = "en"
    return client


def due_in(week: date, day: int = 3) -> str:
    return (week + timedelta(days=day)).isoformat()


def entries(html: str) -> list[str]:
    return re.findall(r'<li class="result kz[^"]*" id="kraamzorg-(\d+)"', html)


def test_the_tab_lists_who_can_take_her_in_in_words(area: World, midwife: Client) -> None:
    week = weeks_ahead()[2]
    fill(area.kraamzorg, week, families=2, hours="minimum", minimum_hours=24)
    full = org(area, "Kraamzorg Full", "3584")
    fill(full, week, families=4)
    stop = org(area, "Kraamzorg Stop", "3584")
    fill(stop, week, families=0, status="stop", reason="staff")
    unknown = org(area, "Kraamzorg Unknown", "3584")
    org(area, "Kraamzorg Elsewhere", "3511")

    response = midwife.get(PAGE, {"pc4": "3584", "due": due_in(week)})
    assert response.status_code == 200
    html = response.content.decode()
    assert entries(html) == [str(full.pk), str(area.kraamzorg.pk), str(unknown.pk), str(stop.pk)]
    assert "Kraamzorg Elsewhere" not in html
    cards = html.split('<li class="result kz')[1:]
    assert "● Takes in families · full hours (49 h)" in re.sub(r"<[^>]+>", "", cards[0])
    assert "Room for 4 families" in cards[0]
    assert "◆</span> Only 24 h of the 49" in cards[1]
    assert "Synthetic demo data" in cards[1] and "Synthetic demo data" not in cards[0]
    assert "?</span> No figures for this week" in cards[2] and "Never filled in for this week" in cards[2]
    assert "✕</span> Intake stop: not enough staff" in cards[3]
    assert "Last confirmed" in cards[0] and "ago" in cards[0]
    # None of these has an intake number: no call link, said in words.
    assert "tel:" not in html and html.count("No phone number known") == 4
    # The midwife can register a shortage from here, the postcode area and due week filled in.
    assert f'href="/kraamzorg/shortages/new/?pc4=3584&amp;week={week:%Y-%m-%d}"' in html
    # Heading, tabs, the live list.
    assert f"For 3584 Utrecht · due week {week:%V}" in html
    assert 'aria-current="page">Kraamzorg</a>' in html
    ids = ",".join(str(i) for i in sorted([area.kraamzorg.pk, full.pk, stop.pk, unknown.pk]))
    assert f'data-ws="/ws/search/kraamzorg/?organisations={ids}&amp;week={week:%Y-%m-%d}"' in html
    assert f'data-fingerprint="{intake_fingerprint(sorted(map(int, ids.split(","))), week)}"' in html
    assert f'data-refresh-url="{RESULTS}?pc4=3584&amp;due={due_in(week)}"' in html


def test_stale_figures_are_flagged_and_ranked_with_the_unknown(area: World, midwife: Client) -> None:
    week = weeks_ahead()[0]
    fill(area.kraamzorg, week, families=5)
    IntakeWeek.objects.update(confirmed_at=timezone.now() - timedelta(days=9))
    html = midwife.get(PAGE, {"pc4": "3584", "due": due_in(week)}).content.decode()
    assert "Not confirmed for more than 7 days: phone to check" in html
    assert 'data-rank="2"' in html and "1\xa0week, 2\xa0days ago" in html


def test_a_full_postcode_and_a_dutch_date_are_understood(area: World, midwife: Client) -> None:
    week = weeks_ahead()[1]
    response = midwife.get(PAGE, {"pc4": "3584 cx", "due": f"{week:%d-%m-%Y}"})
    assert response.status_code == 200
    assert entries(response.content.decode()) == [str(area.kraamzorg.pk)]


def test_beyond_the_grid_a_due_week_has_no_figures_yet(area: World, midwife: Client) -> None:
    last = due_week_range()[1]
    html = midwife.get(PAGE, {"pc4": "3584", "due": due_in(last, 6)}).content.decode()
    assert "No figures for this week" in html


def test_no_organisation_serves_the_area(area: World, midwife: Client) -> None:
    html = midwife.get(PAGE, {"pc4": "3731", "due": due_in(weeks_ahead()[0])}).content.decode()
    assert "No kraamzorg organisation here has this postcode area in its work area." in html
    assert 'data-ws=""' in html  # nothing to follow


def test_the_list_alone_is_the_same_partial(area: World, midwife: Client) -> None:
    week = weeks_ahead()[0]
    fill(area.kraamzorg, week)
    response = midwife.get(RESULTS, {"pc4": "3584", "due": due_in(week)})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="search-results"')
    assert "<html" not in html and entries(html) == [str(area.kraamzorg.pk)]


def test_the_empty_page_asks_and_a_link_with_a_postcode_fills_it_in(area: World, midwife: Client) -> None:
    html = midwife.get(PAGE).content.decode()
    assert 'id="id_pc4"' in html and 'type="date"' in html and "search-results" not in html
    first, last = due_week_range()
    assert f'min="{first:%Y-%m-%d}" max="{last + timedelta(days=6):%Y-%m-%d}"' in html
    prefilled = midwife.get(PAGE, {"pc4": "3584"})
    assert prefilled.status_code == 200  # no due date yet: a form to finish, not an error
    assert 'value="3584"' in prefilled.content.decode()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"pc4": "", "due": "X"}, "pc4", "This field is required."),
        ({"pc4": "35", "due": "X"}, "pc4", "Enter the 4 digits of the client&#x27;s postcode, like 3584."),
        ({"pc4": "Utrecht", "due": "X"}, "pc4", "Enter the 4 digits of the client&#x27;s postcode, like 3584."),
        ({"pc4": "0000", "due": "X"}, "pc4", "0000 is not a known Dutch postcode area. Check the number."),
        ({"pc4": "3584", "due": ""}, "due", "This field is required."),
        ({"pc4": "3584", "due": "31-02-2027"}, "due", "Enter a valid date."),
        ({"pc4": "3584", "due": "PAST"}, "due", "Choose a due date from this week up to 44 weeks ahead"),
        ({"pc4": "3584", "due": "FAR"}, "due", "Choose a due date from this week up to 44 weeks ahead"),
    ],
)
def test_bad_input_is_a_400_with_the_message_on_its_field(
    area: World, midwife: Client, query: dict[str, str], field: str, message: str
) -> None:
    first, last = due_week_range()
    replace = {
        "X": due_in(first),
        "PAST": (first - timedelta(days=1)).isoformat(),
        "FAR": (last + timedelta(days=7)).isoformat(),
    }
    query = {k: replace.get(v, v) for k, v in query.items()}
    for url in (PAGE, RESULTS):
        response = midwife.get(url, query)
        assert response.status_code == 400, url
        html = response.content.decode()
        assert message in html, url
    page = midwife.get(PAGE, query).content.decode()
    error = re.search(rf'<span class="field-error" id="id_{field}-error">([^<]*)</span>', page)
    assert error is not None and message in error.group(1)
    assert re.search(
        rf'id="id_{field}"[^>]*aria-describedby="id_{field}-help id_{field}-error"[^>]*aria-invalid="true"', page, re.S
    )
    assert "kraamzorg-" not in page.split("<form")[0]


@pytest.mark.parametrize("persona", SEARCHERS)
def test_those_who_search_may_look(area: World, client_for: Login, persona: str) -> None:
    client = client_for(area.personas()[persona])
    assert client.get(PAGE).status_code == 200
    assert client.get(PAGE, {"pc4": "3584", "due": due_in(weeks_ahead()[0])}).status_code == 200
    assert client.get(RESULTS, {"pc4": "3584", "due": due_in(weeks_ahead()[0])}).status_code == 200


@pytest.mark.parametrize("persona", REFUSED)
def test_everyone_else_is_refused(area: World, client_for: Login, persona: str) -> None:
    client = client_for(area.personas()[persona])
    query = {"pc4": "3584", "due": due_in(weeks_ahead()[0])}
    assert client.get(PAGE, query).status_code == 403
    assert client.get(RESULTS, query).status_code == 403


def test_anonymous_goes_to_the_login_page(area: World, client: Client) -> None:
    for url in (PAGE, RESULTS):
        response = client.get(url, {"pc4": "3584", "due": due_in(weeks_ahead()[0])})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_only_get(area: World, midwife: Client) -> None:
    assert midwife.post(PAGE, {"pc4": "3584"}).status_code == 405
    assert midwife.post(RESULTS, {"pc4": "3584"}).status_code == 405


def test_the_capacity_search_links_to_the_tab_with_the_postcode_and_due_date(world: World, midwife: Client) -> None:
    make_search_world(region=world.region, other_region=world.other_region)
    html = midwife.get(
        reverse("search:search"), {"where": "3731", "care": "begeleiding", "weeks": "30"}
    ).content.decode()
    today = timezone.localdate()
    link = f'href="{PAGE}?pc4=3731&amp;due={today + timedelta(weeks=10):%Y-%m-%d}"'
    assert link in html and "Kraamzorg for this postcode (3731)" in html
    # The tabs carry the postcode too; the kraamzorg page opened from the link shows its list at once.
    assert f'href="{PAGE}?pc4=3731"' in html
    assert midwife.get(f"{PAGE}?pc4=3731&due={today + timedelta(weeks=10):%Y-%m-%d}").status_code == 200
    # Without a gestational age only the postcode travels; a place name (no single PC4) gets no link.
    html = midwife.get(reverse("search:search"), {"where": "3731", "care": "begeleiding"}).content.decode()
    assert f'href="{PAGE}?pc4=3731"' in html
    html = midwife.get(reverse("search:search"), {"where": "Utrecht", "care": "begeleiding"}).content.decode()
    assert "Kraamzorg for this postcode" not in html


def test_the_call_link_shows_where_a_number_is_known(world: World) -> None:
    week = weeks_ahead()[0]
    known = IntakeOption(
        organisation_id=1, name="A", team="", row=None, stale=True, phone="030 123 4567", phone_e164="+31301234567"
    )
    unknown = IntakeOption(organisation_id=2, name="B", team="", row=None, stale=True)
    make_postcodes()
    from hospitals.models import Postcode

    context = {
        "options": [known, unknown],
        "postcode": Postcode.objects.get(pk="3584"),
        "week": week,
        "week_end": week + timedelta(days=6),
        "query": "",
        "ws_path": "",
        "fingerprint": "",
        "now": timezone.now(),
        "indicated_hours": 49,
    }
    with translation.override("en"):
        html = render_to_string("search/_kraamzorg_results.html", context)
    assert 'href="tel:+31301234567"' in html and "Call: 030 123 4567" in html
    assert html.count("No phone number known") == 1
