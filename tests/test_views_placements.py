"""placements/views.py: the midwife sends from a search result in three taps, staff answer in one or
two, a stale or late answer is a 409 in words, every role but the right one is refused
(docs/requests.md, "Screens")."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from capacity.models import Unit
from hospitals.models import Location, Postcode, User
from placements.models import PlacementEvent, PlacementRequest
from placements.services import PlacementInput, placement_send, placement_transition
from refusals.models import Refusal
from tests.conftest import World

pytestmark = pytest.mark.django_db
State = PlacementRequest.State
Login = Callable[[User], Client]


def send(world: World, **kw: object) -> PlacementRequest:
    values: dict[str, object] = {
        "location_id": world.location.pk,
        "care_type": "overdracht",
        "urgency": "urgent",
        "expected_arrival": timezone.now() + timedelta(minutes=30),
        "callback_phone": "06 1234 5678",
        "gestational_weeks": 36,
    }
    values.update(kw)
    return placement_send(by=world.midwife, data=PlacementInput(**values))  # type: ignore[arg-type]


def form_data(world: World, **kw: str) -> dict[str, str]:
    data = {
        "location": str(world.location.pk),
        "care_type": "overdracht",
        "gestational_weeks": "36",
        "urgency": "immediate",
        "arrival_in": "30",
        "callback_phone": "06 1234 5678",
    }
    data.update(kw)
    return data


def test_the_search_result_offers_the_request_pre_filled(world: World, client_for: Login) -> None:
    Postcode.objects.create(pc4="3731", place="De Bilt", municipality="De Bilt", latitude=52.11, longitude=5.18)
    page = client_for(world.midwife).get(
        reverse("search:search"), {"where": "3731", "care": "overdracht", "weeks": "36"}
    )
    html = page.content.decode()
    link = f"{reverse('placements:new')}?location={world.location.pk}&amp;where=3731&amp;care=overdracht&amp;weeks=36"
    assert link in html
    # Tap 1: the form, with care and weeks from the search and her call-back number from her profile.
    Location.objects.filter(pk=world.location.pk).update(phone="030 250 4000", phone_e164="+31302504000")
    User.objects.filter(pk=world.midwife.pk).update(callback_phone="+31611112222")
    form = client_for(world.midwife).get(
        reverse("placements:new"),
        {"location": str(world.location.pk), "where": "3731", "care": "overdracht", "weeks": "36"},
    )
    body = form.content.decode()
    assert form.status_code == 200
    assert re.search(r'value="overdracht"[^>]*checked', body)
    assert 'value="+31611112222"' in body and 'value="36"' in body and 'value="3731"' in body
    assert 'href="tel:+31302504000"' in body  # the phone stays one tap away


def test_sending_takes_one_post_stores_the_request_and_keeps_her_number(world: World, client_for: Login) -> None:
    client = client_for(world.midwife)
    response = client.post(reverse("placements:new"), form_data(world, callback_phone="06 2345 6789"))
    request = PlacementRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("placements:ask", args=[request.ask])
    assert (request.urgency, request.care_type, request.gestational_weeks) == ("immediate", "overdracht", 36)
    assert request.required_level == 1  # 36 weeks: below term (37), neonatal medium care
    assert abs((request.expected_arrival - timezone.now()).total_seconds() - 1800) < 60
    world.midwife.refresh_from_db()
    assert world.midwife.callback_phone == "+31623456789"
    page = client.get(response["Location"])
    assert world.location.name in page.content.decode()


def test_required_level_follows_the_gestational_age(world: World, client_for: Login) -> None:
    client_for(world.midwife).post(reverse("placements:new"), form_data(world, gestational_weeks="28"))
    assert PlacementRequest.objects.get().required_level == 3  # below 30 weeks: a NICU


@pytest.mark.parametrize(
    ("change", "field_text"),
    [
        ({"urgency": ""}, "urgency"),
        ({"callback_phone": "123"}, "callback_phone"),
        ({"arrival_in": "9999"}, "arrival_in"),
        ({"gestational_weeks": "8"}, "gestational_weeks"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_nothing_is_sent(
    world: World, client_for: Login, change: dict[str, str], field_text: str
) -> None:
    response = client_for(world.midwife).post(reverse("placements:new"), form_data(world, **change))
    assert response.status_code == 400
    assert f'id="id_{field_text}' in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not PlacementRequest.objects.exists()


def test_a_form_without_a_location_says_where_to_start(world: World, client_for: Login) -> None:
    response = client_for(world.midwife).get(reverse("placements:new"))
    assert response.status_code == 400


def test_staff_accept_in_one_tap_and_see_the_bed_prompt(world: World, client_for: Login) -> None:
    request = send(world)
    client = client_for(world.staff)
    desk = client.get(reverse("placements:desk"))
    assert desk.status_code == 200 and f'id="req-{request.pk}"' in desk.content.decode()
    response = client.post(
        reverse("placements:accept", args=[request.pk]), {"version": request.version}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.state == State.ACCEPTED
    html = response.content.decode()
    # The prompt: lower the free beds of the delivery suite yourself, one tap, 4 -> 3; beside the
    # desk (id desk-notice), so that the push replacing the desk does not take it away.
    assert '<div id="desk-notice" class="desk-notice" hx-swap-oob="true">' in html
    assert "bed-prompt" not in html.split('id="desk-notice"')[0]
    assert reverse("capacity:unit_update", args=[world.unit.pk]) in html
    assert 'name="available" value="3"' in html
    assert PlacementEvent.objects.filter(request=request, after="accepted", by=world.staff, via="web").exists()


def test_what_an_answer_said_sits_outside_the_sections_the_pushes_replace(world: World, client_for: Login) -> None:
    """The push after a step replaces the desk section or the ask section: a saved line or a
    problem inside it would vanish before anyone read it, so both go into the notice beside it."""
    request = send(world)
    staff = client_for(world.staff)
    seen = staff.post(reverse("placements:seen", args=[request.pk]), {"version": 1}, HTTP_HX_REQUEST="true")
    section, notice = seen.content.decode().split('<div id="desk-notice"')
    assert 'class="saved"' not in section
    assert 'class="saved" role="status"' in notice
    late = staff.post(reverse("placements:accept", args=[request.pk]), {"version": 1}, HTTP_HX_REQUEST="true")
    assert late.status_code == 409
    section, notice = late.content.decode().split('<div id="desk-notice"')
    assert 'role="alert"' not in section and 'role="alert" tabindex="-1" data-autofocus' in notice
    midwife = client_for(world.midwife)
    stale = midwife.post(reverse("placements:withdraw", args=[request.pk]), {"version": 1}, HTTP_HX_REQUEST="true")
    assert stale.status_code == 409
    section, notice = stale.content.decode().split('<div id="ask-notice"')
    assert 'role="alert"' not in section and 'role="alert" tabindex="-1" data-autofocus' in notice
    for page in (midwife.get(reverse("placements:ask", args=[request.ask])), midwife.get(reverse("placements:mine"))):
        assert '<div id="ask-notice" class="ask-notice"></div>' in page.content.decode()
    request.refresh_from_db()
    assert (request.state, request.version) == (State.SEEN, 2)


def test_the_bed_prompt_is_a_change_staff_make_themselves(world: World, client_for: Login) -> None:
    request = send(world)
    client = client_for(world.staff)
    client.post(reverse("placements:accept", args=[request.pk]), {"version": 1}, HTTP_HX_REQUEST="true")
    world.unit.refresh_from_db()
    assert world.unit.available == 4  # not automatic
    unit = Unit.objects.get(pk=world.unit.pk)
    response = client.post(
        reverse("capacity:unit_update", args=[unit.pk]),
        {"version": unit.version, "status": unit.status, "staffed_total": unit.staffed_total, "available": 3},
    )
    assert response.status_code == 302
    world.unit.refresh_from_db()
    assert world.unit.available == 3


def test_decline_takes_a_reason_and_registers_one_refusal(world: World, client_for: Login) -> None:
    request = send(world)
    client = client_for(world.staff)
    missing = client.post(reverse("placements:decline", args=[request.pk]), {"version": 1}, HTTP_HX_REQUEST="true")
    assert missing.status_code == 400
    response = client.post(
        reverse("placements:decline", args=[request.pk]),
        {"version": 1, "reason": "no_staff"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    refusal = Refusal.objects.get()
    assert (refusal.reason, refusal.source, refusal.location_id) == ("no_staff", "request", world.location.pk)


def test_a_stale_answer_is_a_409_with_the_request_as_it_is(world: World, client_for: Login) -> None:
    request = send(world)
    placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.staff)
    response = client_for(world.staff).post(
        reverse("placements:decline", args=[request.pk]), {"version": 1, "reason": "no_staff"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.ACCEPTED and not Refusal.objects.exists()


def test_an_answer_after_the_deadline_is_refused_in_words(world: World, client_for: Login) -> None:
    request = send(world)
    PlacementRequest.objects.filter(pk=request.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = client_for(world.staff).post(
        reverse("placements:accept", args=[request.pk]), {"version": 1}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Te laat" in html or "Too late" in html
    request.refresh_from_db()
    assert request.state == State.EXPIRED


def test_after_a_no_the_midwife_asks_the_next_location_in_one_tap(world: World, client_for: Login) -> None:
    Postcode.objects.create(pc4="3731", place="De Bilt", municipality="De Bilt", latitude=52.11, longitude=5.18)
    request = send(world, search_origin="3731", care_type="begeleiding", gestational_weeks=None)
    placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff, reason="no_delivery_room")
    client = client_for(world.midwife)
    page = client.get(reverse("placements:ask", args=[request.ask])).content.decode()
    assert world.other_location.name in page  # the next of the ranking, not the one that said no
    response = client.post(
        reverse("placements:ask_next", args=[request.ask]),
        {"location": world.other_location.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    nxt = PlacementRequest.objects.exclude(pk=request.pk).get()
    assert (nxt.location_id, nxt.ask, nxt.urgency, nxt.callback_phone) == (
        world.other_location.pk,
        request.ask,
        request.urgency,
        request.callback_phone,
    )
    # The same location twice while it is open: refused in words.
    again = client.post(
        reverse("placements:ask_next", args=[request.ask]),
        {"location": world.other_location.pk},
        HTTP_HX_REQUEST="true",
    )
    assert again.status_code == 400


def test_the_midwife_withdraws_and_records_arrival(world: World, client_for: Login) -> None:
    request = send(world)
    client = client_for(world.midwife)
    response = client.post(reverse("placements:withdraw", args=[request.pk]), {"version": 1})
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.state, request.withdrawn_why) == (State.WITHDRAWN, "midwife")
    second = send(world)
    placement_transition(request_id=second.pk, to=State.ACCEPTED, by=world.staff)
    client.post(reverse("placements:arrived", args=[second.pk]), {"version": 2})
    second.refresh_from_db()
    assert second.state == State.ARRIVED


def test_the_panel_for_polling_is_the_same_markup(world: World, client_for: Login) -> None:
    request = send(world)
    client = client_for(world.midwife)
    panel = client.get(reverse("placements:ask_panel", args=[request.ask])).content.decode()
    assert panel.startswith('\n<section id="ask-') or f'id="ask-{request.ask}"' in panel
    staff_panel = client_for(world.staff).get(reverse("placements:desk_panel")).content.decode()
    assert f'id="desk-location-{world.location.pk}"' in staff_panel


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "other_staff", "coordinator", "org_admin", "national_admin", "no_role"])
def test_only_midwives_send_and_follow_requests(world: World, client_for: Login, persona: str) -> None:
    request = send(world)
    client = client_for(world.personas()[persona])
    assert client.get(reverse("placements:new"), {"location": world.location.pk}).status_code == 403
    assert client.post(reverse("placements:new"), form_data(world)).status_code == 403
    assert client.get(reverse("placements:mine")).status_code == 403
    assert client.get(reverse("placements:ask", args=[request.ask])).status_code == 403
    assert client.get(reverse("placements:ask_panel", args=[request.ask])).status_code == 403
    assert client.post(reverse("placements:ask_next", args=[request.ask]), {"location": 1}).status_code == 403
    assert client.post(reverse("placements:withdraw", args=[request.pk]), {"version": 1}).status_code == 403
    assert PlacementRequest.objects.count() == 1


def test_another_midwife_sees_nothing_of_her_requests(world: World, client_for: Login) -> None:
    request = send(world)
    other = User.objects.create_user("m2", role=User.Role.MIDWIFE, organisation=world.practice)
    client = client_for(other)
    assert client.get(reverse("placements:ask", args=[request.ask])).status_code == 404
    assert client.post(reverse("placements:withdraw", args=[request.pk]), {"version": 1}).status_code == 403
    assert client.post(reverse("placements:ask_next", args=[request.ask]), {"location": 1}).status_code == 404


@pytest.mark.parametrize("persona", ["other_staff", "midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_only_staff_of_the_location_answer(world: World, client_for: Login, persona: str) -> None:
    request = send(world)
    client = client_for(world.personas()[persona])
    for step in ("seen", "accept", "decline"):
        response = client.post(reverse(f"placements:{step}", args=[request.pk]), {"version": 1, "reason": "other"})
        assert response.status_code == 403, step
    request.refresh_from_db()
    assert request.state == State.SENT


@pytest.mark.parametrize("persona", ["midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_the_desk_is_for_staff(world: World, client_for: Login, persona: str) -> None:
    client = client_for(world.personas()[persona])
    assert client.get(reverse("placements:desk")).status_code == 403
    assert client.get(reverse("placements:desk_panel")).status_code == 403


def test_other_staff_do_not_see_this_locations_requests(world: World, client_for: Login) -> None:
    request = send(world)
    html = client_for(world.other_staff).get(reverse("placements:desk")).content.decode()
    assert f'id="req-{request.pk}"' not in html


def test_anonymous_users_go_to_the_login_page(world: World, client: Client) -> None:
    request = send(world)
    for url in (
        reverse("placements:mine"),
        reverse("placements:new"),
        reverse("placements:desk"),
        reverse("placements:ask", args=[request.ask]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    response = client.post(reverse("placements:accept", args=[request.pk]), {"version": 1})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == State.SENT


def test_answers_are_post_only(world: World, client_for: Login) -> None:
    request = send(world)
    assert client_for(world.staff).get(reverse("placements:accept", args=[request.pk])).status_code == 405


def test_the_refusal_form_says_a_declined_request_already_counts(world: World, client_for: Login) -> None:
    request = send(world)
    placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff, reason="no_staff")
    data = {
        "location": world.location.pk,
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "care_type": "overdracht",
        "reason": "no_staff",
        "outcome": "unknown",
    }
    client = client_for(world.midwife)
    response = client.post(reverse("refusals:register"), data)
    assert response.status_code == 409
    assert 'name="another_client"' in response.content.decode()
    assert Refusal.objects.count() == 1
    again = client.post(reverse("refusals:register"), {**data, "another_client": "1"})
    assert again.status_code == 302 and Refusal.objects.count() == 2
