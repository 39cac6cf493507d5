"""The phone-number pages: organisation administrators keep their own locations' delivery-suite numbers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from hospitals.models import Location, LocationPhoneChange, User
from hospitals.services import location_set_phone
from tests.conftest import World

LIST = reverse("hospitals:phones")


def edit_url(location: Location) -> str:
    return reverse("hospitals:phone_edit", args=[location.pk])


def test_org_admin_lists_only_own_organisations_active_locations(world: World, client_for) -> None:
    closed = Location.objects.create(
        slug="wkz-closed",
        name="WKZ Gesloten",
        organisation=world.hospital,
        region=world.region,
        city="Utrecht",
        latitude=52.0,
        longitude=5.1,
        active=False,
    )
    location_set_phone(location_id=world.location.pk, by=world.national_admin, phone="0302509111")
    response = client_for(world.org_admin).get(LIST)
    assert response.status_code == 200
    assert list(response.context["locations"]) == [world.location]
    body = response.content.decode()
    assert f'href="{edit_url(world.location)}"' in body and closed.name not in body
    assert world.other_location.name not in body
    assert '<a href="tel:+31302509111">030 250 9111</a>' in body and "national_admin" in body  # who last changed it


def test_national_admin_lists_every_active_location(world: World, client_for) -> None:
    body = client_for(world.national_admin).get(LIST).content.decode()
    for location in (world.location, world.other_location, world.far_location):
        assert f'href="{edit_url(location)}"' in body


def test_the_accounts_page_links_the_phone_numbers(world: World, client_for) -> None:
    assert f'href="{LIST}"' in client_for(world.org_admin).get(reverse("hospitals:members")).content.decode()


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "no_role"])
def test_other_roles_are_refused(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(LIST).status_code == 403
    assert c.get(edit_url(world.location)).status_code == 403
    assert c.post(edit_url(world.location), {"phone": "030 250 9111", "seen": ""}).status_code == 403
    assert not LocationPhoneChange.objects.exists() and Location.objects.get(pk=world.location.pk).phone == ""


def test_another_organisations_admin_is_refused(world: World, client_for) -> None:
    other_admin = User.objects.create_user(
        username="diak_admin", role=User.Role.ORG_ADMIN, organisation=world.other_location.organisation
    )
    c = client_for(other_admin)
    assert world.location.name not in c.get(LIST).content.decode()
    assert c.get(edit_url(world.location)).status_code == 403
    assert c.post(edit_url(world.location), {"phone": "030 250 9111", "seen": ""}).status_code == 403
    # ...and the hospital's own admin may not touch the other organisation's location either.
    own = client_for(world.org_admin)
    assert own.post(edit_url(world.other_location), {"phone": "030 250 9111"}).status_code == 403
    assert not LocationPhoneChange.objects.exists()


def test_anonymous_goes_to_login(client: Client, world: World) -> None:
    for response in (
        client.get(LIST),
        client.get(edit_url(world.location)),
        client.post(edit_url(world.location), {"phone": "030 250 9111"}),
    ):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not LocationPhoneChange.objects.exists()


def test_wrong_method_and_unknown_or_closed_location(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    assert c.post(LIST).status_code == 405
    assert c.put(edit_url(world.location)).status_code == 405
    assert c.get(reverse("hospitals:phone_edit", args=[999999])).status_code == 404
    Location.objects.filter(pk=world.location.pk).update(active=False)
    assert c.get(edit_url(world.location)).status_code == 404


def test_org_admin_sets_the_number_and_it_is_recorded_and_shown(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    page = c.get(edit_url(world.location)).content.decode()
    assert re.search(r'<input type="tel" name="phone" id="id_phone" value=""', page) and 'name="seen"' in page
    response = c.post(edit_url(world.location), {"phone": "+31 30 250 9111", "seen": ""})
    assert response.status_code == 302 and response["Location"] == LIST
    world.location.refresh_from_db()
    assert (world.location.phone, world.location.phone_e164) == ("030 250 9111", "+31302509111")
    change = LocationPhoneChange.objects.get()
    assert (change.location, change.by) == (world.location, world.org_admin)
    assert (change.before, change.after) == ("", "030 250 9111")
    assert "030 250 9111" in c.get(LIST).content.decode()  # the success message and the list
    history = c.get(edit_url(world.location)).content.decode()
    assert "org_admin" in history and "030 250 9111" in history
    # Midwives get one tap to call on the board row (the same row the live push sends).
    board = client_for(world.midwife).get(reverse("capacity:board_national")).content.decode()
    assert 'class="call-suite midwife-only" href="tel:+31302509111"' in board
    c = client_for(world.org_admin)

    # Emptying the field removes the number, recorded too.
    assert c.post(edit_url(world.location), {"phone": "", "seen": "030 250 9111"}).status_code == 302
    world.location.refresh_from_db()
    assert (world.location.phone, world.location.phone_e164) == ("", "")
    assert LocationPhoneChange.objects.count() == 2


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("112", "geen geldig Nederlands telefoonnummer"),
        ("+32 2 555 12 12", "Nederlands telefoonnummer (+31)"),
        ("0900 1234567", "090x"),
        ("030 250 9111 x 12", "zonder toestelnummer"),
        ("0" * 33, "niet meer dan 32 tekens"),
    ],
)
def test_bad_input_is_400_with_the_message_tied_to_the_field(
    world: World, client_for, typed: str, message: str
) -> None:
    response = client_for(world.org_admin).post(edit_url(world.location), {"phone": typed, "seen": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'id="id_phone-error"' in body and 'aria-invalid="true"' in body
    assert 'aria-describedby="id_phone-help id_phone-error"' in body
    assert not LocationPhoneChange.objects.exists() and Location.objects.get(pk=world.location.pk).phone == ""


def test_a_change_made_meanwhile_is_409_with_the_current_number(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    c.get(edit_url(world.location))  # the form shows no number ...
    location_set_phone(location_id=world.location.pk, by=world.national_admin, phone="030 250 9111")  # ... then
    response = c.post(edit_url(world.location), {"phone": "030 250 0000", "seen": ""})
    assert response.status_code == 409
    body = response.content.decode()
    assert 'name="phone" id="id_phone" value="030 250 9111"' in body and 'name="seen" value="030 250 9111"' in body
    assert 'role="alert"' in body
    assert Location.objects.get(pk=world.location.pk).phone == "030 250 9111"


def test_english_works(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    c.post(reverse("set_language"), {"language": "en"})
    response = c.post(edit_url(world.location), {"phone": "112", "seen": ""})
    assert "This is not a valid Dutch phone number" in response.content.decode()
