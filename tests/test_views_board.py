from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from capacity.models import BoardToken, Unit
from tests.conftest import World

ROLES = ["staff", "other_staff", "midwife", "coordinator", "org_admin", "national_admin"]


@pytest.mark.parametrize("persona", ROLES)
def test_every_role_sees_the_region_and_national_board(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    region = c.get(reverse("capacity:board_region", args=[world.region.code]))
    assert region.status_code == 200
    body = region.content.decode()
    assert f'id="location-{world.location.pk}"' in body and f'id="location-{world.far_location.pk}"' not in body
    assert f'ws-connect="/ws/board/{world.region.code}/?lang=nl"' in body
    national = c.get(reverse("capacity:board_national")).content.decode()
    assert f'id="location-{world.far_location.pk}"' in national


def test_user_without_role_is_refused(world: World, client_for) -> None:
    c = client_for(world.no_role)
    assert c.get(reverse("capacity:board_national")).status_code == 403
    assert c.get(reverse("capacity:board_rows", args=["national"])).status_code == 403
    assert c.get(reverse("home")).status_code == 403


@pytest.mark.parametrize(
    "url",
    ["/", "/board/", "/board/region/midden/", "/board/rows/national/", "/units/", "/admin/"],
)
def test_anonymous_sees_only_the_login_page(client: Client, world: World, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("login")).status_code == 200


def test_board_shows_status_in_words_not_colour_alone(world: World, client_for) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(status="stop", stop_reason="staff", available=0)
    Unit.objects.filter(pk=world.other_unit.pk).update(available=1)
    body = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    assert "Opnamestop" in body and "geen personeel" in body
    assert "1 plek" in body and "Ruimte" in body  # NICU has 2 free


def test_home_sends_each_role_to_its_page(world: World, client_for) -> None:
    assert client_for(world.staff).get("/")["Location"] == reverse("capacity:my_units")
    for persona in ["midwife", "coordinator", "org_admin"]:
        location = client_for(world.personas()[persona]).get("/")["Location"]
        assert location == reverse("capacity:board_region", args=[world.region.code])
    assert client_for(world.national_admin).get("/")["Location"] == reverse("capacity:board_national")


def test_favourites_come_first_and_toggle(world: World, client_for) -> None:
    c = client_for(world.midwife)
    url = reverse("capacity:board_region", args=[world.region.code])
    body = c.get(url).content.decode()
    assert body.index(f"location-{world.other_location.pk}") < body.index(f"location-{world.location.pk}")
    c.post(reverse("capacity:toggle_favourite", args=[world.location.pk]), {"next": url})
    body = c.get(url).content.decode()
    assert body.index(f"location-{world.location.pk}") < body.index(f"location-{world.other_location.pk}")
    assert list(world.midwife.favourite_locations.all()) == [world.location]
    c.post(reverse("capacity:toggle_favourite", args=[world.location.pk]))
    assert not world.midwife.favourite_locations.exists()
    assert c.get(reverse("capacity:toggle_favourite", args=[world.location.pk])).status_code == 405


def test_polling_fallback_returns_the_list_alone(world: World, client_for) -> None:
    response = client_for(world.midwife).get(reverse("capacity:board_rows", args=[world.region.code]))
    body = response.content.decode()
    assert response.status_code == 200 and body.startswith('<div id="board-list"') and "<html" not in body


def test_unknown_region_is_404(world: World, client_for) -> None:
    assert client_for(world.midwife).get("/board/region/atlantis/").status_code == 404


def test_wall_screen_needs_a_valid_unrevoked_token(client: Client, world: World) -> None:
    token, raw = BoardToken.issue(label="Balie", region=world.region, created_by=world.coordinator)
    assert token.token_hash != raw and len(token.token_hash) == 64
    response = client.get(reverse("capacity:screen", args=[raw]))
    assert response.status_code == 200 and f'id="location-{world.location.pk}"' in response.content.decode()
    assert client.get(reverse("capacity:screen", args=["not-a-token"])).status_code == 404
    BoardToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    # Withdrawn: a page that says so (tests/test_views_screens.py).
    assert client.get(reverse("capacity:screen", args=[raw])).status_code == 410


def test_health_is_public_and_checks_database_and_redis(client: Client, db: None, settings) -> None:
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["redis"] == ("ok" if settings.REDIS_URL else "not configured (embedded mode)")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    broken = client.get(reverse("health"))
    assert broken.status_code == 503 and broken.json()["redis"] == "error"


def test_language_switch_to_english(world: World, client_for) -> None:
    c = client_for(world.midwife)
    c.post(reverse("set_language"), {"language": "en", "next": "/board/"})
    body = c.get("/board/").content.decode()
    assert 'lang="en"' in body and "National overview" in body and "/ws/board/national/?lang=en" in body


def test_dutch_by_default_even_for_an_english_browser(world: World, client_for) -> None:
    body = client_for(world.midwife).get("/board/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="nl"' in body and "Landelijk overzicht" in body


def test_board_lists_stand_alone_birth_centres_but_not_closed_wards(world: World, client_for) -> None:
    from hospitals.models import Location

    def location(slug: str, **fields: object) -> Location:
        return Location.objects.create(
            slug=slug,
            name=slug.replace("-", " ").title(),
            organisation=world.hospital,
            region=world.region,
            city="Utrecht",
            latitude=52.09,
            longitude=5.12,
            **fields,
        )

    centre = location("geboortecentrum-zuid", kind=Location.Kind.BIRTH_CENTRE, acute_obstetrics=False)
    Unit.objects.create(location=centre, kind=Unit.Kind.BIRTH_CENTRE, staffed_total=3, available=2)
    closed = location("closed-ward", acute_obstetrics=False)  # its delivery ward closed; a unit lingers
    Unit.objects.create(location=closed, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=0, available=0)
    body = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    assert f'id="location-{centre.pk}"' in body and "stand-alone birth centre" not in body  # Dutch page
    assert "zelfstandig geboortecentrum" in body
    assert f'id="location-{closed.pk}"' not in body


# --- navigation ----------------------------------------------------------------------------------


def _nav_board_link(body: str) -> str:
    match = re.search(r'<a href="([^"]*)" data-nav="board"( aria-current="page")?>', body)
    assert match is not None, "no board link in the main navigation"
    return match.group(0)


@pytest.mark.parametrize(
    ("persona", "home"),
    [
        ("midwife", "/board/region/midden/"),
        ("coordinator", "/board/region/midden/"),
        ("org_admin", "/board/region/midden/"),
        ("staff", "/board/region/midden/"),
        ("national_admin", "/board/"),
    ],
)
def test_overview_in_the_menu_opens_the_home_region(world: World, client_for, persona: str, home: str) -> None:
    body = client_for(world.personas()[persona]).get(reverse("capacity:board_national")).content.decode()
    assert f'<a href="{home}" data-nav="board"' in body
    # The national board stays one tap away: the first region tab.
    assert '<a href="/board/" aria-current="page">Alle regio' in body


def test_menu_marks_the_current_page(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    board = c.get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    assert 'aria-current="page"' in _nav_board_link(board)
    screens = c.get(reverse("capacity:screens")).content.decode()
    assert 'aria-current="page"' not in _nav_board_link(screens)
    assert re.search(r'<a href="/screens/" aria-current="page">', screens)
    # The region tab of the board shown is marked too, and only that one.
    assert board.count('aria-current="page"') == 2
    assert f'<a href="/board/region/{world.region.code}/" aria-current="page">' in board


# --- cards | grid --------------------------------------------------------------------------------


def test_layout_is_cards_by_default_and_the_grid_is_remembered(world: World, client_for) -> None:
    c = client_for(world.midwife)
    url = reverse("capacity:board_region", args=[world.region.code])
    first = c.get(url)
    assert 'data-layout="cards"' in first.content.decode() and "board_layout" not in first.cookies
    assert 'value="grid" aria-pressed="false"' in first.content.decode()

    chosen = c.get(url + "?layout=grid")  # the toggle without JavaScript
    assert chosen.cookies["board_layout"].value == "grid"
    assert (
        'data-layout="grid"' in chosen.content.decode()
        and 'value="grid" aria-pressed="true"' in chosen.content.decode()
    )
    # Remembered: a plain reload, another board and the polling fallback all come as a grid.
    assert 'data-layout="grid"' in c.get(url).content.decode()
    assert 'data-layout="grid"' in c.get(reverse("capacity:board_national")).content.decode()
    assert (
        c.get(reverse("capacity:board_rows", args=["national"]))
        .content.decode()
        .startswith('<div id="board-list" class="board" data-layout="grid"')
    )
    c.cookies["board_layout"] = "sideways"  # nonsense falls back to cards
    assert 'data-layout="cards"' in c.get(url).content.decode()
    assert "board_layout" not in c.get(url + "?layout=sideways").cookies


def test_grid_has_a_column_for_each_unit_type_shown_and_css_places_every_kind(world: World, client_for) -> None:
    from pathlib import Path

    Unit.objects.create(location=world.other_location, kind=Unit.Kind.HIGH_CARE, staffed_total=4, available=1)
    body = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    head = body[body.index('<div class="grid-head"') : body.index('<div class="loc-wrap')]
    # Board order, and only the unit types this board has: no empty birth-centre column on the wall.
    assert re.findall(r'data-kind="(\w+)"', head) == ["delivery_suite", "nicu", "high_care"]
    assert 'data-kinds="delivery_suite nicu high_care"' in body
    assert f'<li class="unit" data-kind="{Unit.Kind.NICU}"' in body
    css = (Path(__file__).resolve().parent.parent / "static/css/board.css").read_text()
    for kind in Unit.Kind:
        assert f'[data-kind="{kind.value}"] {{ grid-column: {kind.value}; }}' in css, kind


# --- one status badge ----------------------------------------------------------------------------


def _unit_lines(body: str) -> dict[str, str]:
    return dict(re.findall(r'<li class="unit" data-kind="(\w+)"(.*?)</li>', body, flags=re.S))


@pytest.mark.parametrize(
    ("fields", "state", "word"),
    [
        ({"status": "stop", "stop_reason": "staff", "available": 0}, "stop", "Opnamestop"),
        ({"status": "limited", "available": 0}, "full", "Vol"),
        ({"status": "open", "available": 0}, "full", "Vol"),
        ({"status": "open", "available": 1}, "one", "1 plek"),
        ({"status": "open", "available": 3}, "room", "Ruimte"),
        ({"status": "limited", "available": 3}, "limited", None),
    ],
)
def test_a_unit_shows_one_status_badge(world: World, client_for, fields: dict, state: str, word: str | None) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(**fields)
    body = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    line = _unit_lines(body)[Unit.Kind.DELIVERY_SUITE]
    assert f'data-state="{state}"' in line
    assert line.count('class="badge ') == 1, line
    assert "Beperkt<" not in line  # never "Vol" or "1 plek" plus a second "Beperkt" badge
    if word:
        assert word in line


def test_limited_reads_as_one_state_in_english(world: World, client_for) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(status="limited", available=2)
    c = client_for(world.midwife)
    c.post(reverse("set_language"), {"language": "en", "next": "/board/"})
    line = _unit_lines(c.get(reverse("capacity:board_region", args=[world.region.code])).content.decode())[
        Unit.Kind.DELIVERY_SUITE
    ]
    assert '<span class="badge badge-limited"><span aria-hidden="true">◆</span> Limited admission</span>' in line
    assert "Room" not in line


def test_out_of_date_has_its_own_mark_not_the_stop_warning(world: World, client_for) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=timezone.now() - timedelta(hours=9))
    body = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    line = _unit_lines(body)[Unit.Kind.DELIVERY_SUITE]
    assert " data-stale " in line
    assert '<span class="flag flag-stale"><span aria-hidden="true">◷</span> Verouderd</span>' in line
    assert "⚠" not in line
    assert "data-stale" not in _unit_lines(body)[Unit.Kind.NICU]


# --- refusals return to the board ----------------------------------------------------------------


def test_refused_here_links_back_to_the_board_also_in_the_push(world: World, client_for) -> None:
    from capacity import live

    expected = f"/refusals/new/?location={world.location.pk}&amp;next=%2Fboard%2Fregion%2Fmidden%2F"
    body = client_for(world.midwife).get(reverse("capacity:board_region", args=[world.region.code])).content.decode()
    assert f'class="refused-here midwife-only" href="{expected}"' in body
    rendered = live.render_location_frames(world.location.pk)
    assert rendered is not None
    assert all(f'href="{expected}"' in frame for lang, frame in rendered[1].items() if lang in ("nl", "en"))


# --- locations without a phone number ------------------------------------------------------------


def test_coordinator_is_told_which_locations_cannot_be_called(world: World, client_for) -> None:
    from hospitals.models import Location

    Location.objects.filter(pk=world.other_location.pk).update(phone="030 256 6566", phone_e164="+31302566566")
    url = reverse("capacity:board_region", args=[world.region.code])
    body = client_for(world.coordinator).get(url).content.decode()
    warning = body[body.index('id="phone-gaps"') : body.index("</div>", body.index('id="phone-gaps"'))]
    assert "WKZ Utrecht" in warning and "Diakonessenhuis" not in warning  # it has a number
    assert "LUMC" not in warning  # another region's board
    assert "/accounts/phones/" not in warning  # coordinators cannot change numbers


@pytest.mark.parametrize("persona", ["org_admin", "national_admin"])
def test_administrators_get_a_link_to_the_phone_page(world: World, client_for, persona: str) -> None:
    body = client_for(world.personas()[persona]).get(reverse("capacity:board_region", args=[world.region.code]))
    html = body.content.decode()
    warning = html[html.index('id="phone-gaps"') : html.index("</div>", html.index('id="phone-gaps"'))]
    assert 'href="/accounts/phones/"' in warning
    assert f'href="/accounts/phones/{world.location.pk}/">WKZ Utrecht</a>' in warning
    # An organisation administrator edits only their own organisation's numbers (UMC Utrecht here).
    other = f'href="/accounts/phones/{world.other_location.pk}/"'
    assert (other in warning) == (persona == "national_admin")
    assert "Diakonessenhuis Utrecht" in warning


@pytest.mark.parametrize("persona", ["midwife", "staff"])
def test_midwives_and_staff_see_no_phone_warning(world: World, client_for, persona: str) -> None:
    body = client_for(world.personas()[persona]).get(reverse("capacity:board_region", args=[world.region.code]))
    assert 'id="phone-gaps"' not in body.content.decode()


def test_no_warning_when_every_location_has_a_number(world: World, client_for) -> None:
    from hospitals.models import Location

    Location.objects.update(phone="030 250 9111", phone_e164="+31302509111")
    body = client_for(world.coordinator).get(reverse("capacity:board_region", args=[world.region.code]))
    assert 'id="phone-gaps"' not in body.content.decode()


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/board/", "/\\evil.example", "javascript:alert(1)", "http:/x"]
)
def test_the_favourite_star_never_redirects_to_another_site(world: World, client_for, target: str) -> None:
    response = client_for(world.midwife).post(
        reverse("capacity:toggle_favourite", args=[world.location.pk]), {"next": target}
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert list(world.midwife.favourite_locations.all()) == [world.location]
