from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from capacity.models import BoardToken
from tests.conftest import World

URL = "/screens/"


def test_coordinator_creates_a_link_shown_once_that_opens_the_board(world: World, client_for, client: Client) -> None:
    c = client_for(world.coordinator)
    response = c.post(URL, {"label": "Balie verloskamers", "region": world.region.pk})
    assert response.status_code == 200
    body = response.content.decode()
    link = re.search(r'value="(http://testserver/board/screen/[^"]+/)"', body)
    assert link is not None
    token = BoardToken.objects.get()
    assert (token.label, token.region, token.created_by) == ("Balie verloskamers", world.region, world.coordinator)
    raw = link.group(1).rsplit("/", 2)[-2]
    assert token.token_hash == BoardToken.hash(raw) and raw not in c.get(URL).content.decode()
    anonymous = Client()
    assert anonymous.get(link.group(1)).status_code == 200


def test_coordinator_cannot_make_links_for_another_region(world: World, client_for) -> None:
    response = client_for(world.coordinator).post(URL, {"label": "x", "region": world.other_region.pk})
    assert response.status_code == 400 and response.context["form"].errors["region"]
    assert not BoardToken.objects.exists()


def test_revoke_own_region_only(world: World, client_for) -> None:
    own, _ = BoardToken.issue(label="a", region=world.region, created_by=world.national_admin)
    other, _ = BoardToken.issue(label="b", region=world.other_region, created_by=world.national_admin)
    c = client_for(world.coordinator)
    assert c.post(reverse("capacity:screen_revoke", args=[own.pk])).status_code == 302
    assert c.post(reverse("capacity:screen_revoke", args=[other.pk])).status_code == 404
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None and other.revoked_at is None
    assert "b" not in [t.label for t in c.get(URL).context["tokens"]]


def test_national_admin_manages_every_region(world: World, client_for) -> None:
    response = client_for(world.national_admin).post(URL, {"label": "LNAZ", "region": world.other_region.pk})
    assert response.status_code == 200 and BoardToken.objects.get().region == world.other_region


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_other_roles_are_refused(world: World, client_for, persona: str) -> None:
    token, _ = BoardToken.issue(label="a", region=world.region, created_by=world.coordinator)
    c = client_for(world.personas()[persona])
    assert c.get(URL).status_code == 403
    assert c.post(URL, {"label": "x", "region": world.region.pk}).status_code == 403
    assert c.post(reverse("capacity:screen_revoke", args=[token.pk])).status_code == 403
    assert BoardToken.objects.count() == 1 and BoardToken.objects.get().revoked_at is None


def test_anonymous_goes_to_login(client: Client, world: World) -> None:
    assert client.get(URL)["Location"].startswith(reverse("login"))


def test_empty_label_is_a_400_tied_to_the_field(world: World, client_for) -> None:
    response = client_for(world.coordinator).post(URL, {"label": "", "region": world.region.pk})
    assert response.status_code == 400
    assert 'aria-describedby="id_label-error"' in response.content.decode()


def test_revoking_records_who_and_when_once(world: World, client_for) -> None:
    token, _ = BoardToken.issue(label="a", region=world.region, created_by=world.national_admin)
    client_for(world.coordinator).post(reverse("capacity:screen_revoke", args=[token.pk]))
    token.refresh_from_db()
    first = token.revoked_at
    assert first is not None and token.revoked_by == world.coordinator
    # Revoking again (another tab, a national administrator) keeps the first record.
    client_for(world.national_admin).post(reverse("capacity:screen_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by) == (first, world.coordinator)


# --- the wall screen itself ------------------------------------------------------------------------


def test_wall_screen_is_a_kiosk_grid_without_navigation(world: World, client: Client) -> None:
    from capacity.models import Unit

    Unit.objects.update(updated_at="2026-03-02T09:00:00Z")
    Unit.objects.filter(pk=world.unit.pk).update(updated_at="2026-03-02T13:07:00Z")
    _token, raw = BoardToken.issue(label="Balie", region=world.region, created_by=world.coordinator)
    response = client.get(reverse("capacity:screen", args=[raw]))
    body = response.content.decode()
    assert response.status_code == 200 and 'lang="nl"' in body
    assert '<body class="role-none kiosk"' in body
    assert 'data-layout="grid"' in body and 'class="grid-head"' in body
    assert 'id="clock"' in body and 'id="conn"' in body
    # Last change: the newest unit change on this board, in local time (CET in March).
    assert re.search(r'<time id="last-change" datetime="2026-03-02T14:07:00\+01:00">14:07</time>', body)
    assert 'id="sound-enable"' in body and 'id="stop-cue"' in body
    # No navigation, language button, favourites or login: a screen only shows.
    for chrome in [
        '<nav aria-label="Hoofdmenu"',
        'class="lang"',
        "set_language",
        'class="fav-form"',
        "/accounts/logout/",
    ]:
        assert chrome not in body, chrome
    assert 'class="regions"' not in body and "hx-get=" not in body


def test_revoked_link_says_so_in_the_screens_language_with_410(world: World, client_for, client: Client) -> None:
    token, raw = BoardToken.issue(label="Balie", region=world.region, created_by=world.coordinator)
    client_for(world.coordinator).post(reverse("capacity:screen_revoke", args=[token.pk]))
    client.logout()
    response = client.get(reverse("capacity:screen", args=[raw]))
    body = response.content.decode()
    assert response.status_code == 410
    assert 'lang="nl"' in body and 'data-screen-gone="revoked"' in body and "Not Found" not in body
    assert "Capaciteit geboortezorg" in body  # a page of this site, in Dutch
    assert 'class="lang"' not in body and "<nav" not in body
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = client.get(reverse("capacity:screen", args=[raw])).content.decode()
    assert "This wall-screen link has been withdrawn" in english and "ROAZ coordinator" in english


def test_unknown_link_is_a_404_page_that_says_whom_to_ask(client: Client, db: None) -> None:
    response = client.get(reverse("capacity:screen", args=["no-such-link"]))
    body = response.content.decode()
    assert response.status_code == 404 and 'data-screen-gone="unknown"' in body and "Not Found" not in body
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = client.get(reverse("capacity:screen", args=["no-such-link"])).content.decode()
    assert "This wall-screen link is unknown" in english and "ROAZ coordinator" in english
