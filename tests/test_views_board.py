from __future__ import annotations

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
    assert client.get(reverse("capacity:screen", args=[raw])).status_code == 404


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
