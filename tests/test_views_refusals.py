from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.models import Unit
from hospitals.models import Location, Organisation
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


# --- stand-alone birth centres ----------------------------------------------------------------


def make_birth_centre(world: World, *, available: int = 2) -> Location:
    """A stand-alone birth centre (no 24/7 obstetrics) in the world's region, with its one unit."""
    organisation = Organisation.objects.create(
        name="Geboortecentrum De Bilt", kind=Organisation.Kind.BIRTH_CENTRE, region=world.region
    )
    centre = Location.objects.create(
        slug="gc-de-bilt",
        name="Geboortecentrum De Bilt",
        organisation=organisation,
        region=world.region,
        kind=Location.Kind.BIRTH_CENTRE,
        city="De Bilt",
        latitude=52.11,
        longitude=5.18,
        acute_obstetrics=False,
    )
    Unit.objects.create(location=centre, kind=Unit.Kind.BIRTH_CENTRE, staffed_total=3, available=available)
    return centre


def closed_ward(world: World) -> Location:
    """A hospital whose delivery ward closed: a leftover delivery-suite unit, no 24/7 obstetrics."""
    closed = Location.objects.create(
        slug="closed",
        name="Ziekenhuis Gesloten",
        organisation=world.hospital,
        region=world.region,
        city="Zeist",
        latitude=52.09,
        longitude=5.23,
        acute_obstetrics=False,
    )
    Unit.objects.create(location=closed, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=4, available=4)
    return closed


def test_a_birth_centre_can_be_chosen_and_its_refusal_registered(world: World, client_for) -> None:
    centre = make_birth_centre(world)
    c = client_for(world.midwife)
    form = c.get(NEW, {"location": centre.pk}).content.decode()
    assert f'<option value="{centre.pk}" selected>Geboortecentrum De Bilt (De Bilt)</option>' in form
    response = c.post(
        NEW, form_data(world, location=centre.pk, care_type="begeleiding", reason="no_delivery_room", outcome="home")
    )
    assert response.status_code == 302
    refusal = Refusal.objects.get()
    assert (refusal.location, refusal.region, refusal.care_type) == (centre, world.region, "begeleiding")
    # The snapshot holds what the platform showed for the birth centre: its unit had room.
    assert refusal.board_showed_room is True
    assert [u["kind"] for u in refusal.board_snapshot["units"]] == ["birth_centre"]
    # ...and it may be where the client went after a hospital refused.
    response = c.post(NEW, form_data(world, outcome="location", outcome_location=centre.pk))
    assert response.status_code == 302 and Refusal.objects.filter(outcome_location=centre).exists()


def test_a_location_without_a_unit_a_refusal_could_concern_is_not_offered(world: World, client_for) -> None:
    closed = closed_ward(world)
    c = client_for(world.midwife)
    form = c.get(NEW).content.decode()
    assert f'<option value="{closed.pk}"' not in form and f'<option value="{world.location.pk}"' in form
    response = c.post(NEW, form_data(world, location=closed.pk))
    assert response.status_code == 400 and response.context["form"].errors["location"]
    assert not Refusal.objects.exists()
