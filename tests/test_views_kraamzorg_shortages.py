"""Registering a kraamzorg shortage on a phone: pre-filled from the lookup, bad input tied to its
field in the user's language, nothing half-saved, one's own list and withdrawal."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from hospitals.models import Postcode, User
from kraamzorg.models import Shortage, ShortageEvent, monday_of
from tests.conftest import Kraamzorg, World

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
NEW = "/kraamzorg/shortages/new/"


@pytest.fixture(autouse=True)
def postcodes() -> None:
    Postcode.objects.create(pk="3584", place="Utrecht", municipality="Utrecht", province="Utrecht",
                            latitude=52.08, longitude=5.17)  # fmt: skip


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def due() -> str:
    return f"{timezone.localdate() + timedelta(weeks=4):%Y-%m-%d}"


def post(**kw: object) -> dict[str, object]:
    data: dict[str, object] = {"pc4": "3584", "due_week": due(), "indicated_hours": 49, "promised_hours": 24,
                               "reason": "staff", "vulnerable": "unknown", "organisation": ""}  # fmt: skip
    data.update(kw)
    return data


def test_a_midwife_registers_from_the_lookup_in_one_tap(world: World, kz: Kraamzorg, client_for: Login) -> None:
    client = english(client_for(world.midwife))
    week = monday_of(timezone.localdate() + timedelta(weeks=4))
    html = client.get(f"{NEW}?pc4=3584&week={week:%Y-%m-%d}&organisation={kz.organisation.pk}").content.decode()
    assert 'value="3584"' in html and f'value="{week:%Y-%m-%d}"' in html
    assert re.search(rf'<option value="{kz.organisation.pk}" selected>', html)
    assert 'value="49"' in html  # the usual indication is already there
    assert "never the client's name, BSN, date of birth or address" in html
    response = client.post(NEW, post(organisation=kz.organisation.pk, vulnerable="yes"))
    assert response.status_code == 302 and response["Location"] == "/kraamzorg/shortages/"
    shortage = Shortage.objects.get()
    assert (shortage.registered_by, shortage.organisation, shortage.vulnerable, shortage.due_week) == (
        world.midwife, kz.organisation, "yes", week)  # fmt: skip
    listing = client.get("/kraamzorg/shortages/").content.decode()
    assert "3584 Utrecht" in listing and "24 of 49 h" in listing and "Shortage registered for 3584" in listing


def test_a_planner_registers_for_their_own_organisation(world: World, client_for: Login) -> None:
    client = english(client_for(world.planner))
    html = client.get(NEW).content.decode()
    assert 'name="organisation"' not in html
    assert client.post(NEW, post(promised_hours=0, reason="no_intake")).status_code == 302
    assert Shortage.objects.get().organisation == world.kraamzorg


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"pc4": "35"}, "pc4", "4 digits"),
        ({"pc4": "9999"}, "pc4", "not a known Dutch postcode"),
        ({"due_week": ""}, "due_week", "Enter the expected due date"),
        ({"due_week": "2020-01-06"}, "due_week", "must lie between"),
        ({"indicated_hours": 0}, "indicated_hours", "1 to 80"),
        ({"promised_hours": 60}, "promised_hours", "fewer than the indicated hours"),
        ({"promised_hours": ""}, "promised_hours", "0 when there is no kraamzorg"),
        ({"reason": ""}, "reason", "required"),
    ],
)
def test_bad_input_is_a_400_tied_to_its_field(
    world: World, client_for: Login, kw: dict[str, object], field: str, words: str
) -> None:
    response = english(client_for(world.midwife)).post(NEW, post(**kw))
    html = response.content.decode()
    assert response.status_code == 400
    error = re.search(rf'<span class="field-error" id="id_{field}-error">([^<]*)</span>', html)
    assert error is not None and words in error.group(1), html
    assert re.search(rf'aria-describedby="[^"]*id_{field}-error', html)
    assert not Shortage.objects.exists() and not ShortageEvent.objects.exists()


def test_the_form_speaks_dutch_by_default(world: World, client_for: Login) -> None:
    html = client_for(world.midwife).post(NEW, post(pc4="12")).content.decode()
    assert "Kraamzorgtekort melden" in html and "cijfers van een Nederlandse postcode" in html


def test_withdraw_asks_first_and_then_stops_counting(world: World, client_for: Login) -> None:
    client = english(client_for(world.midwife))
    client.post(NEW, post())
    shortage = Shortage.objects.get()
    url = f"/kraamzorg/shortages/{shortage.pk}/withdraw/"
    assert "Withdraw the shortage for 3584" in client.get(url).content.decode()
    assert client.post(url, {"version": 1})["Location"] == "/kraamzorg/shortages/"
    shortage.refresh_from_db()
    assert shortage.withdrawn_at is not None
    assert "withdrawn" in client.get("/kraamzorg/shortages/").content.decode()
    assert client.get(url).status_code == 403  # once


def test_a_stale_withdraw_says_so_and_changes_nothing(world: World, client_for: Login) -> None:
    client = english(client_for(world.midwife))
    client.post(NEW, post())
    shortage = Shortage.objects.get()
    response = client.post(f"/kraamzorg/shortages/{shortage.pk}/withdraw/", {"version": 9}, follow=True)
    assert "changed in the meantime" in response.content.decode()
    shortage.refresh_from_db()
    assert shortage.withdrawn_at is None


def test_someone_elses_registration_does_not_exist_for_you(world: World, kz: Kraamzorg, client_for: Login) -> None:
    english(client_for(world.midwife)).post(NEW, post())
    shortage = Shortage.objects.get()
    other = client_for(kz.other_planner)
    assert other.get(f"/kraamzorg/shortages/{shortage.pk}/withdraw/").status_code == 404
    assert other.post(f"/kraamzorg/shortages/{shortage.pk}/withdraw/", {"version": 1}).status_code == 404
    assert "3584" not in other.get("/kraamzorg/shortages/").content.decode()
