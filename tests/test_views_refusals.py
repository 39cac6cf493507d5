from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from capacity.models import Unit
from hospitals.models import Location, Organisation, Region
from refusals.models import Refusal, RefusalEvent
from refusals.selectors import NEAR_CHOICES
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
    # The board may add where to come back to (next=…) after the location.
    assert f'href="/refusals/new/?location={world.location.pk}' in body and 'class="role-midwife"' in body


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


# --- she comes back where she was (next) ------------------------------------------------------

SEARCH_PATH = "/search/?where=3584&care=overdracht&weeks=36"


def refusal_form(response: Any) -> str:
    """The refusal form's markup (the page's language switch has a `next` of its own)."""
    body = response.content.decode()
    start = body.index('class="card refusal-form"')
    return body[start : body.index("</form>", start)]


def register_from(c: Client, world: World, back: str, **kw: object) -> Any:
    return c.post(NEW, {**form_data(world, **kw), "next": back})


@pytest.mark.parametrize("back", [SEARCH_PATH, "/board/region/midden/", "/board/"])
def test_after_saving_she_returns_to_the_search_or_board_with_a_confirmation(
    world: World, client_for, back: str
) -> None:
    c = client_for(world.midwife)
    form = refusal_form(c.get(NEW, {"location": world.location.pk, "next": back}))
    # Carried through the form, and "Cancel" goes back there too.
    assert f'<input type="hidden" name="next" value="{escape(back)}">' in form
    assert f'id="refusal-cancel" href="{escape(back)}"' in form
    response = register_from(c, world, back)
    assert response.status_code == 302 and response["Location"] == back
    assert Refusal.objects.count() == 1
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Weigering door WKZ Utrecht geregistreerd. Dank u."
    ]


def test_a_refused_save_keeps_next_for_the_second_try(world: World, client_for) -> None:
    c = client_for(world.midwife)
    response = register_from(c, world, SEARCH_PATH, reason="")
    assert response.status_code == 400
    assert f'name="next" value="{escape(SEARCH_PATH)}"' in response.content.decode()
    response = register_from(c, world, SEARCH_PATH)
    assert response["Location"] == SEARCH_PATH


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/",
        "//evil.example/search/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/\t/evil.example/",
        "javascript:alert(1)",
        "JavaScript:alert(1)//",
        "http://testserver/search/",  # this host, but not a path: only paths are accepted
        "search/",
        "",
    ],
)
def test_a_next_that_leaves_the_site_is_ignored(world: World, client_for, back: str) -> None:
    """An open redirect would let a crafted link send her to a look-alike site after saving."""
    c = client_for(world.midwife)
    form = refusal_form(c.get(NEW, {"location": world.location.pk, "next": back}))
    assert 'name="next"' not in form
    assert f'id="refusal-cancel" href="{reverse("refusals:mine")}"' in form
    response = register_from(c, world, back)
    assert response.status_code == 302 and response["Location"] == reverse("refusals:mine")
    assert Refusal.objects.count() == 1


def test_without_next_she_lands_on_her_refusals(world: World, client_for) -> None:
    response = client_for(world.midwife).post(NEW, form_data(world))
    assert response["Location"] == reverse("refusals:mine")


# --- where she was taken in: nearest first, her region, then a type-ahead ---------------------


def add_location(world: World, slug: str, name: str, *, region: Region | None = None) -> Location:
    """A hospital with a delivery suite (so a refusal can concern it or take her in)."""
    region = region or world.region
    organisation = Organisation.objects.create(name=name, kind=Organisation.Kind.HOSPITAL, region=region)
    location = Location.objects.create(
        slug=slug,
        name=name,
        organisation=organisation,
        region=region,
        city=name.split()[-1],
        latitude=52.0,
        longitude=5.0,
    )
    Unit.objects.create(location=location, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=6, available=2)
    return location


def groups(response: Any) -> list[tuple[str, list[int]]]:
    form = response.context["form"]
    return [(g.legend, [int(r.data["value"]) for r in g.radios]) for g in form.taken_in_groups()]


def test_the_searchs_results_come_first_nearest_first_then_her_region(world: World, client_for) -> None:
    amersfoort = add_location(world, "mmc", "Meander Amersfoort")
    alphen = add_location(world, "alrijne", "Alrijne Alphen", region=world.other_region)
    delft = add_location(world, "rdgg", "Reinier Delft", region=world.other_region)
    c = client_for(world.midwife)
    c.cookies["django_language"] = "en"
    near = [world.far_location.pk, world.location.pk, alphen.pk, world.other_location.pk]
    response = c.get(NEW, {"location": world.location.pk, "near": ",".join(map(str, near)), "next": SEARCH_PATH})
    assert response.status_code == 200
    # The search's order, without the location that refused; then the rest of her region.
    assert groups(response) == [
        ("Near the client (your search), nearest first", [world.far_location.pk, alphen.pk, world.other_location.pk]),
        ("Other locations in Midden-Nederland", [amersfoort.pk]),
    ]
    body = response.content.decode()
    # The radios in that order on the page, then "another location"; Delft only in the type-ahead.
    radios = [world.far_location.pk, alphen.pk, world.other_location.pk, amersfoort.pk, "other"]
    positions = [body.index(f'name="outcome_location" value="{pk}"') for pk in radios]
    assert positions == sorted(positions)
    assert f'name="outcome_location" value="{delft.pk}"' not in body
    assert '<option value="Reinier Delft (Delft)"></option>' in body
    assert 'list="taken-in-options"' in body
    # Carried through a POST that comes back with an error: the same choices.
    again = c.post(NEW, {**form_data(world, reason=""), "near": ",".join(map(str, near))})
    assert again.status_code == 400 and groups(again) == groups(response)
    assert f'name="near" value="{",".join(map(str, near))}"' in again.content.decode()


def test_without_a_search_her_region_comes_first(world: World, client_for) -> None:
    amersfoort = add_location(world, "mmc", "Meander Amersfoort")
    c = client_for(world.midwife)
    c.cookies["django_language"] = "en"
    response = c.get(NEW, {"location": world.location.pk, "near": "x,,-3"})
    assert groups(response) == [("Locations in Midden-Nederland", [world.other_location.pk, amersfoort.pk])]
    assert 'name="near"' not in response.content.decode()


def test_only_the_first_few_search_results_are_one_tap_choices(world: World, client_for) -> None:
    extra = [add_location(world, f"w{i}", f"West{i} Leiden", region=world.other_region) for i in range(7)]
    response = client_for(world.midwife).get(NEW, {"near": ",".join(str(x.pk) for x in extra)})
    assert groups(response)[0][1] == [x.pk for x in extra[:NEAR_CHOICES]]


def test_one_tap_on_where_she_went_is_enough(world: World, client_for) -> None:
    """Tapping the location that took her in answers "where did the client go?" too."""
    c = client_for(world.midwife)
    response = c.post(NEW, form_data(world, outcome="", outcome_location=world.far_location.pk))
    assert response.status_code == 302
    refusal = Refusal.objects.get()
    assert (refusal.outcome, refusal.outcome_location) == ("location", world.far_location)
    nothing = c.post(NEW, form_data(world, outcome="", outcome_location=""))
    assert nothing.status_code == 400 and nothing.context["form"].errors["outcome"]


@pytest.mark.parametrize(
    ("typed", "radio"),
    [("LUMC Leiden (Leiden)", "other"), ("lumc leiden", "other"), ("  LUMC  ", "other"), ("LUMC Leiden (Leiden)", "")],
)
def test_the_type_ahead_resolves_to_exactly_one_location(world: World, client_for, typed: str, radio: str) -> None:
    response = client_for(world.midwife).post(
        NEW, form_data(world, outcome_location=radio, outcome_location_other=typed)
    )
    assert response.status_code == 302
    assert Refusal.objects.get().outcome_location == world.far_location


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("Utrecht", "“Utrecht” matches more than one location: Diakonessenhuis Utrecht (Utrecht); WKZ Utrecht"),
        ("Nergenshuizen", "No location matches “Nergenshuizen”. Choose one from the list."),
        ("", "Type the name or town of the location that took her in."),
    ],
)
def test_an_ambiguous_or_unknown_location_is_an_error_at_the_field(
    world: World, client_for, typed: str, message: str
) -> None:
    c = client_for(world.midwife)
    c.cookies["django_language"] = "en"
    response = c.post(NEW, form_data(world, outcome_location="other", outcome_location_other=typed))
    assert response.status_code == 400 and not Refusal.objects.exists()
    body = response.content.decode()
    assert message in " ".join(response.context["form"].errors["outcome_location_other"])
    assert 'id="id_outcome_location_other-error"' in body
    assert 'aria-describedby="id_outcome_location_other-error"' in body and 'aria-invalid="true"' in body
    assert "outcome" not in response.context["form"].errors


def test_a_location_is_not_asked_for_when_she_went_home(world: World, client_for) -> None:
    response = client_for(world.midwife).post(
        NEW, form_data(world, outcome="home", outcome_location="other", outcome_location_other="")
    )
    assert response.status_code == 302
    assert (Refusal.objects.get().outcome, Refusal.objects.get().outcome_location) == ("home", None)


def test_a_location_without_obstetrics_cannot_have_taken_her_in(world: World, client_for) -> None:
    closed = closed_ward(world)
    response = client_for(world.midwife).post(NEW, form_data(world, outcome_location=closed.pk))
    assert response.status_code == 400 and response.context["form"].errors["outcome_location"]
    assert 'id="id_outcome_location-error"' in response.content.decode()


def test_a_correction_shows_a_location_outside_the_suggestions_in_the_type_ahead(world: World, client_for) -> None:
    c = client_for(world.midwife)
    c.post(NEW, form_data(world, outcome_location=world.far_location.pk))
    refusal = Refusal.objects.get()
    response = c.get(reverse("refusals:correct", args=[refusal.pk]))
    body = response.content.decode()
    assert 'type="radio" name="outcome_location" value="other" id="id_outcome_location_' in body
    assert re.search(r'value="other"[^>]*checked', body)
    assert 'name="outcome_location_other" value="LUMC Leiden (Leiden)"' in body
    # Saved again unchanged: still LUMC.
    posted = c.post(
        reverse("refusals:correct", args=[refusal.pk]),
        {**form_data(world, outcome_location="other", outcome_location_other="LUMC Leiden (Leiden)"), "version": 1},
    )
    assert posted.status_code == 302
    refusal.refresh_from_db()
    assert (refusal.outcome_location, refusal.version) == (world.far_location, 2)


# --- withdrawing asks first ------------------------------------------------------------------


def registered(world: World, c: Client) -> Refusal:
    c.post(NEW, form_data(world))
    return Refusal.objects.get()


def test_withdraw_asks_first_and_the_list_only_links_to_the_question(world: World, client_for) -> None:
    c = client_for(world.midwife)
    c.cookies["django_language"] = "en"
    refusal = registered(world, c)
    url = reverse("refusals:withdraw", args=[refusal.pk])
    listing = c.get(reverse("refusals:mine")).content.decode()
    assert f'href="{url}"' in listing and f'action="{url}"' not in listing
    question = c.get(url)
    assert question.status_code == 200
    body = question.content.decode()
    when = timezone.localtime(refusal.occurred_at).strftime("%-d %b %H:%M")
    assert f"Withdraw the refusal by WKZ Utrecht of {when}?" in body
    assert 'method="post"' in body and 'name="version" value="1"' in body
    assert f'href="{reverse("refusals:mine")}">Keep</a>' in body
    refusal.refresh_from_db()
    assert refusal.withdrawn_at is None and refusal.version == 1  # asking changed nothing

    response = c.post(url, {"version": 1, "confirm": "withdraw"})
    assert response.status_code == 302 and response["Location"] == reverse("refusals:mine")
    refusal.refresh_from_db()
    assert refusal.withdrawn_at is not None and refusal.version == 2
    event = RefusalEvent.objects.filter(refusal=refusal).last()
    assert event is not None and (event.action, event.by) == ("withdraw", world.midwife)
    # Withdrawn: no second question, no second withdrawal.
    assert c.get(url).status_code == 403
    assert c.post(url, {"version": 2}).status_code == 403


def test_withdraw_question_after_the_correction_window_is_refused(world: World, client_for, settings) -> None:
    c = client_for(world.midwife)
    refusal = registered(world, c)
    Refusal.objects.filter(pk=refusal.pk).update(
        registered_at=timezone.now() - settings.REFUSAL_EDIT_WINDOW - timedelta(minutes=1)
    )
    assert c.get(reverse("refusals:withdraw", args=[refusal.pk])).status_code == 403
    assert 'class="button withdraw"' not in c.get(reverse("refusals:mine")).content.decode()


def test_a_stale_withdrawal_is_not_applied(world: World, client_for) -> None:
    c = client_for(world.midwife)
    refusal = registered(world, c)
    c.post(reverse("refusals:correct", args=[refusal.pk]), {**form_data(world, reason="no_staff"), "version": 1})
    response = c.post(reverse("refusals:withdraw", args=[refusal.pk]), {"version": 1})
    assert response.status_code == 302
    assert Refusal.objects.get().withdrawn_at is None


@pytest.mark.parametrize("persona", ["staff", "coordinator", "org_admin", "national_admin", "no_role"])
def test_other_roles_cannot_see_the_withdraw_question(world: World, client_for, persona: str) -> None:
    refusal = registered(world, client_for(world.midwife))
    c = client_for(world.personas()[persona])
    url = reverse("refusals:withdraw", args=[refusal.pk])
    assert c.get(url).status_code == 403
    assert c.post(url, {"version": 1}).status_code == 403
    assert c.get(f"{NEW}?next=/board/").status_code == 403
    assert Refusal.objects.get().withdrawn_at is None


def test_another_midwife_gets_no_withdraw_question(world: World, client_for) -> None:
    refusal = registered(world, client_for(world.midwife))
    other = type(world.midwife).objects.create_user(username="m2", role="midwife", organisation=world.practice)
    assert client_for(other).get(reverse("refusals:withdraw", args=[refusal.pk])).status_code == 404


def test_withdraw_rejects_other_methods(world: World, client_for) -> None:
    refusal = registered(world, client_for(world.midwife))
    assert client_for(world.midwife).put(reverse("refusals:withdraw", args=[refusal.pk])).status_code == 405
