"""Delivery-suite phone numbers: parsing Dutch numbers, who may set them, the history, the push to boards."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from hospitals.models import Location, LocationPhoneChange, User
from hospitals.phones import parse_dutch_phone
from hospitals.services import PhoneConflict, location_set_phone
from tests.conftest import World


@pytest.mark.parametrize(
    ("typed", "display", "e164"),
    [
        ("030-250 9111", "030 250 9111", "+31302509111"),
        ("+31 30 250 9111", "030 250 9111", "+31302509111"),
        ("0302509111", "030 250 9111", "+31302509111"),
        ("(030) 250 91 11", "030 250 9111", "+31302509111"),
        ("0031 30 250 91 11", "030 250 9111", "+31302509111"),
        ("+31 (0)30 250 91 11", "030 250 9111", "+31302509111"),
        ("  088 - 755 5555 ", "088 755 5555", "+31887555555"),  # the 088 numbers many hospitals use
        ("020-5669111", "020 566 9111", "+31205669111"),
        ("06 12345678", "06 12345678", "+31612345678"),
    ],
)
def test_common_dutch_formats_are_normalised(typed: str, display: str, e164: str) -> None:
    phone = parse_dutch_phone(typed)
    assert (phone.display, phone.e164) == (display, e164)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("112", "invalid"),  # an emergency number is not a delivery suite
        ("030 25", "invalid"),
        ("030 250 9111 1", "invalid"),
        ("verloskamer", "invalid"),
        ("+32 2 555 12 12", "not_dutch"),
        ("0900 1234567", "premium"),
        ("030 250 9111 x 12", "ext"),
        ("030 250 9111" + " " * 30 + "1", "too_long"),
    ],
)
def test_anything_but_a_valid_dutch_number_is_refused(typed: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_dutch_phone(typed)
    assert caught.value.code == code


def test_messages_are_in_the_users_language() -> None:
    with translation.override("nl"), pytest.raises(ValidationError) as caught:
        parse_dutch_phone("112")
    assert "geen geldig Nederlands telefoonnummer" in caught.value.messages[0]


def test_org_admin_sets_own_location_and_the_change_is_recorded(world: World) -> None:
    location = location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="030-250 9111", expected="")
    location.refresh_from_db()
    assert (location.phone, location.phone_e164, location.phone_href) == (
        "030 250 9111",
        "+31302509111",
        "tel:+31302509111",
    )
    location_set_phone(location_id=world.location.pk, by=world.national_admin, phone="+31 88 755 5555")
    location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="")
    history = [(c.by, c.before, c.after) for c in LocationPhoneChange.objects.order_by("id")]
    assert history == [
        (world.org_admin, "", "030 250 9111"),
        (world.national_admin, "030 250 9111", "088 755 5555"),
        (world.org_admin, "088 755 5555", ""),
    ]
    world.location.refresh_from_db()
    assert (world.location.phone, world.location.phone_e164, world.location.phone_href) == ("", "", "")


def test_the_same_number_typed_differently_records_nothing(world: World) -> None:
    location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="0302509111")
    location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="+31 30 250 91 11")
    assert LocationPhoneChange.objects.count() == 1


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "no_role"])
def test_other_roles_may_not_set_a_number(world: World, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        location_set_phone(location_id=world.location.pk, by=world.personas()[persona], phone="030 250 9111")
    assert not LocationPhoneChange.objects.exists() and Location.objects.get(pk=world.location.pk).phone == ""


def test_an_org_admin_may_not_set_another_organisations_number(world: World) -> None:
    with pytest.raises(PermissionDenied):
        location_set_phone(location_id=world.other_location.pk, by=world.org_admin, phone="030 250 9111")
    other_admin = User.objects.create_user(
        username="diak_admin", role=User.Role.ORG_ADMIN, organisation=world.other_location.organisation
    )
    with pytest.raises(PermissionDenied):
        location_set_phone(location_id=world.location.pk, by=other_admin, phone="030 250 9111")
    assert not LocationPhoneChange.objects.exists()


def test_a_bad_number_is_tied_to_the_field_and_nothing_saved(world: World) -> None:
    with pytest.raises(ValidationError) as caught:
        location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="112")
    assert list(caught.value.message_dict) == ["phone"]
    assert not LocationPhoneChange.objects.exists() and Location.objects.get(pk=world.location.pk).phone == ""


def test_a_number_changed_meanwhile_is_not_overwritten_unseen(world: World) -> None:
    location_set_phone(location_id=world.location.pk, by=world.national_admin, phone="030 250 9111", expected="")
    with pytest.raises(PhoneConflict) as caught:
        location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="030 250 0000", expected="")
    assert caught.value.current.phone == "030 250 9111"
    assert LocationPhoneChange.objects.count() == 1


def test_history_is_append_only(world: World) -> None:
    location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="030 250 9111")
    change = LocationPhoneChange.objects.get()
    change.after = "030 000 0000"
    with pytest.raises(RuntimeError):
        change.save()
    with pytest.raises(RuntimeError):
        change.delete()


def test_the_board_row_with_the_tel_link_is_pushed_after_commit(
    world: World, published: list[dict[str, Any]], django_capture_on_commit_callbacks
) -> None:
    """Boards and the open search results of that location follow; a refused change pushes nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="030-250 9111")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        location_set_phone(location_id=world.location.pk, by=world.org_admin, phone="112")
    assert len(published) == 1
    assert published[0]["location_id"] == world.location.pk
    assert f"location-{world.location.pk}" in published[0]["groups"]
    frames: dict[str, str] = published[0]["frames"]
    for lang in ("nl", "en"):
        frame = frames[lang]
        # The same markup for every user: CSS shows the link to midwives (the role class on <body>).
        assert 'class="call-suite midwife-only" href="tel:+31302509111"' in frame
    assert "Bel de verloskamers: 030 250 9111" in frames["nl"]
    assert "Call the delivery suite: 030 250 9111" in frames["en"]


def test_numbers_entered_before_the_check_existed_are_normalised_by_the_migration(world: World) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("hospitals.migrations.0003_location_phone_history")
    Location.objects.filter(pk=world.location.pk).update(phone="030-2509111")
    Location.objects.filter(pk=world.other_location.pk).update(phone="bel de centrale")
    migration.normalise_existing_phones(apps, None)
    location, other = Location.objects.get(pk=world.location.pk), Location.objects.get(pk=world.other_location.pk)
    assert (location.phone, location.phone_e164) == ("030 250 9111", "+31302509111")
    # Not a number: kept for its administrator to correct, but never offered as a link.
    assert (other.phone, other.phone_e164, other.phone_href) == ("bel de centrale", "", "")


def test_an_organisations_intake_phone_is_checked_and_dialled_in_e164(world: World) -> None:
    world.kraamzorg.phone = "(030) 250 91 11"
    world.kraamzorg.full_clean()
    assert (world.kraamzorg.phone, world.kraamzorg.phone_href) == ("030 250 9111", "tel:+31302509111")
    world.kraamzorg.phone = "12345"
    with pytest.raises(ValidationError) as exc:
        world.kraamzorg.full_clean()
    assert "phone" in exc.value.message_dict
