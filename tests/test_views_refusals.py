from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from refusals.models import Refusal
from tests.conftest import World

NEW = "/refusals/new/"


def form_data(world: World, **kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "location": world.location.pk,
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "care_type": "overdracht",
        "reason": "no_delivery_room",
        "gestational_weeks": "36",
        "outcome": "location",
        "outcome_location": world.other_location.pk,
        "hospitals_called": "2",
        "note": "",
    }
    data.update(kw)
    return data


def test_refused_here_prefills_location_and_time(world: World, client_for) -> None:
    response = client_for(world.midwife).get(f"{NEW}?location={world.location.pk}")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["location"] == world.location.pk
    assert abs((timezone.localtime() - form.initial["occurred_at"]).total_seconds()) < 120
    body = response.content.decode()
    assert "BSN" in body  # the privacy warning


def test_board_rows_carry_the_refused_here_link(world: World, client_for) -> None:
    body = client_for(world.midwife).get(reverse("capacity:board_national")).content.decode()
    assert f'href="/refusals/new/?location={world.location.pk}"' in body and 'class="role-midwife"' in body


def test_register_in_one_post(world: World, client_for) -> None:
    c = client_for(world.midwife)
    response = c.post(NEW, form_data(world))
    assert response.status_code == 302 and response["Location"] == reverse("refusals:mine")
    refusal = Refusal.objects.get()
    assert (refusal.location, refusal.gestational_weeks, refusal.registered_by) == (world.location, 36, world.midwife)
    assert "geregistreerd" in c.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"gestational_weeks": "12"}, "gestational_weeks"),
        ({"gestational_weeks": "veertig"}, "gestational_weeks"),
        ({"occurred_at": (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}, "occurred_at"),
        ({"occurred_at": "gisteren"}, "occurred_at"),
        ({"outcome_location": ""}, "outcome_location"),
        ({"location": "999999"}, "location"),
        ({"reason": ""}, "reason"),
    ],
)
def test_bad_input_is_400_tied_to_field_and_saves_nothing(
    world: World, client_for, kw: dict[str, object], field: str
) -> None:
    response = client_for(world.midwife).post(NEW, form_data(world, **kw))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert f'id="id_{field}-error"' in response.content.decode()
    assert not Refusal.objects.exists()


def test_note_points_at_its_privacy_warning_with_and_without_an_error(world: World, client_for) -> None:
    """The warning not to identify the client is read with the note field, also once it has an error."""
    client = client_for(world.midwife)
    blank = client.get(NEW).content.decode()
    assert 'aria-describedby="id_note_helptext"' in blank and 'id="id_note_helptext"' in blank
    response = client.post(NEW, form_data(world, note="x" * 281))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'aria-describedby="id_note-error id_note_helptext"' in body
    assert 'id="id_note-error"' in body and 'id="id_note_helptext"' in body


@pytest.mark.parametrize("persona", ["staff", "other_staff", "coordinator", "org_admin", "national_admin", "no_role"])
def test_only_midwives_register(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(NEW).status_code == 403
    assert c.post(NEW, form_data(world)).status_code == 403
    assert c.get(reverse("refusals:mine")).status_code == 403
    assert not Refusal.objects.exists()


def test_anonymous_goes_to_login(client, world: World) -> None:
    assert client.get(NEW)["Location"].startswith(reverse("login"))
    assert client.post(NEW, form_data(world)).status_code == 302 and not Refusal.objects.exists()


def test_correct_and_withdraw_own_only(world: World, client_for) -> None:
    c = client_for(world.midwife)
    c.post(NEW, form_data(world))
    refusal = Refusal.objects.get()
    url = reverse("refusals:correct", args=[refusal.pk])
    response = c.post(url, {**form_data(world, reason="no_staff"), "version": 1})
    assert response.status_code == 302
    refusal.refresh_from_db()
    assert (refusal.reason, refusal.version) == ("no_staff", 2)
    stale = c.post(url, {**form_data(world), "version": 1})
    assert stale.status_code == 409
    assert c.post(reverse("refusals:withdraw", args=[refusal.pk]), {"version": 2}).status_code == 302
    refusal.refresh_from_db()
    assert refusal.withdrawn_at is not None


def test_another_midwife_cannot_touch_it(world: World, client_for) -> None:
    client_for(world.midwife).post(NEW, form_data(world))
    refusal = Refusal.objects.get()
    other = type(world.midwife).objects.create_user(username="m2", role="midwife", organisation=world.practice)
    c = client_for(other)
    assert c.get(reverse("refusals:correct", args=[refusal.pk])).status_code == 404
    assert c.post(reverse("refusals:withdraw", args=[refusal.pk]), {"version": 1}).status_code == 404
    assert Refusal.objects.get().withdrawn_at is None
