"""placements.services: sending a request, the state machine, who may answer, the deadline, and every
"no" as one refusal (docs/requests.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils import timezone

from hospitals.models import User
from placements.models import PlacementEvent, PlacementRequest
from placements.services import (
    PlacementInput,
    StalePlacement,
    TransitionRefused,
    placement_expire_due,
    placement_send,
    placement_transition,
)
from refusals.models import Refusal
from tests.conftest import World

pytestmark = pytest.mark.django_db

State = PlacementRequest.State


def send(world: World, **kw: object) -> PlacementRequest:
    values: dict[str, object] = {
        "location_id": world.location.pk,
        "care_type": "overdracht",
        "urgency": "immediate",
        "expected_arrival": timezone.now() + timedelta(minutes=20),
        "callback_phone": "06 1234 5678",
        "gestational_weeks": 36,
    }
    values.update(kw)
    return placement_send(by=world.midwife, data=PlacementInput(**values))  # type: ignore[arg-type]


def test_a_request_holds_the_care_asked_for_and_no_patient_identifiers(world: World) -> None:
    request = send(world)
    assert (request.state, request.version, request.region_id) == (State.SENT, 1, world.region.pk)
    assert request.callback_phone == "+31612345678"
    assert request.deadline - request.sent_at == timedelta(minutes=5)  # the most urgent: 5 minutes
    assert request.board_snapshot["units"]  # the board as it was when she asked
    # No field that could hold who the client is: no free text at all, and none named for it.
    text_fields = {
        f.name for f in PlacementRequest._meta.get_fields() if isinstance(f, models.CharField | models.TextField)
    }
    # search_origin holds a 4-digit postcode or a place name, validated as a search origin.
    assert text_fields == {
        "care_type",
        "urgency",
        "callback_phone",
        "state",
        "decline_reason",
        "withdrawn_why",
        "search_origin",
    }
    names = " ".join(f.name for f in PlacementRequest._meta.get_fields())
    for word in ("name", "bsn", "birth", "address", "postcode", "note"):
        assert word not in names
    [event] = PlacementEvent.objects.filter(request=request)
    assert (event.before, event.after, event.by_id, event.via) == ("", "sent", world.midwife.pk, "web")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location_id": 999999}, "location"),
        ({"care_type": "x"}, "care_type"),
        ({"urgency": "whenever"}, "urgency"),
        ({"gestational_weeks": 12}, "gestational_weeks"),
        ({"callback_phone": "12345"}, "callback_phone"),
        ({"search_origin": "Dorpsstraat 12, De Bilt"}, "search_origin"),
        ({"expected_arrival": timezone.now() - timedelta(hours=1)}, "expected_arrival"),
        ({"expected_arrival": timezone.now() + timedelta(days=3)}, "expected_arrival"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_stored(world: World, change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        send(world, **change)
    assert field in error.value.message_dict
    assert not PlacementRequest.objects.exists()


def test_only_a_midwife_sends(world: World) -> None:
    for user in (world.staff, world.coordinator, world.org_admin, world.national_admin, world.no_role):
        with pytest.raises(PermissionDenied):
            placement_send(
                by=user,
                data=PlacementInput(world.location.pk, "overdracht", "urgent", timezone.now(), "0612345678"),
            )


def test_staff_of_the_location_see_and_accept(world: World) -> None:
    request = send(world)
    seen = placement_transition(request_id=request.pk, to=State.SEEN, by=world.staff, expected_version=1)
    accepted = placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.staff, expected_version=2)
    assert (accepted.state, accepted.version, seen.version) == (State.ACCEPTED, 3, 2)
    assert accepted.answered_at is not None and accepted.refusal_id is None
    arrived = placement_transition(request_id=request.pk, to=State.ARRIVED, by=world.staff)
    assert arrived.state == State.ARRIVED
    steps = list(PlacementEvent.objects.filter(request=request).values_list("before", "after", "by_id"))
    assert steps == [
        ("", "sent", world.midwife.pk),
        ("sent", "seen", world.staff.pk),
        ("seen", "accepted", world.staff.pk),
        ("accepted", "arrived", world.staff.pk),
    ]


@pytest.mark.parametrize("persona", ["other_staff", "coordinator", "org_admin", "national_admin", "no_role"])
def test_nobody_else_answers(world: World, persona: str) -> None:
    request = send(world)
    for to in (State.SEEN, State.ACCEPTED, State.DECLINED):
        with pytest.raises(PermissionDenied):
            placement_transition(request_id=request.pk, to=to, by=world.personas()[persona], reason="no_staff")
    # The midwife withdraws but cannot answer her own request.
    with pytest.raises(PermissionDenied):
        placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.midwife)
    other_midwife = User.objects.create_user(username="andere", role=User.Role.MIDWIFE, organisation=world.practice)
    with pytest.raises(PermissionDenied):
        placement_transition(request_id=request.pk, to=State.WITHDRAWN, by=other_midwife)
    assert PlacementRequest.objects.get(pk=request.pk).state == State.SENT


def test_a_decline_needs_a_reason_and_registers_one_refusal_marked_as_from_a_request(world: World) -> None:
    request = send(world, gestational_weeks=39, care_type="begeleiding")
    with pytest.raises(ValidationError):
        placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff)
    declined = placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff, reason="no_staff")
    refusal = Refusal.objects.get()
    assert declined.refusal_id == refusal.pk and declined.decline_reason == "no_staff"
    assert (refusal.source, refusal.reason, refusal.location_id, refusal.care_type, refusal.gestational_weeks) == (
        "request",
        "no_staff",
        world.location.pk,
        "begeleiding",
        39,
    )
    # In the midwife's name, with the board as it was when she asked; who declined is in the history.
    assert refusal.registered_by_id == world.midwife.pk and refusal.board_snapshot == request.board_snapshot
    assert refusal.events.get().by_id == world.staff.pk
    # A closed request takes no second answer, and no second refusal.
    with pytest.raises(TransitionRefused):
        placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.staff)
    assert Refusal.objects.count() == 1


def colleague(world: World) -> User:
    """A second staff member of the same location."""
    user = User.objects.create_user(username="collega", role=User.Role.HOSPITAL_STAFF, organisation=world.hospital)
    user.locations.set([world.location])
    return user


def test_an_answer_on_an_old_version_is_refused_with_the_current_state(world: World) -> None:
    request = send(world)
    placement_transition(request_id=request.pk, to=State.SEEN, by=world.staff, expected_version=1)
    with pytest.raises(StalePlacement) as error:
        placement_transition(request_id=request.pk, to=State.ACCEPTED, by=colleague(world), expected_version=1)
    assert error.value.current.state == State.SEEN


def test_no_answer_expires_the_request_and_counts_as_a_refusal(world: World) -> None:
    request = send(world)
    early = placement_expire_due(now=request.deadline - timedelta(seconds=1))
    assert early == 0 and PlacementRequest.objects.get(pk=request.pk).state == State.SENT
    assert placement_expire_due(now=request.deadline + timedelta(seconds=1)) == 1
    expired = PlacementRequest.objects.get(pk=request.pk)
    assert expired.state == State.EXPIRED and expired.refusal is not None
    assert (expired.refusal.source, expired.refusal.reason) == ("request", "other")
    assert PlacementEvent.objects.filter(request=request, after="expired").get().via == "system"
    assert placement_expire_due(now=request.deadline + timedelta(minutes=5)) == 0  # idempotent
    assert Refusal.objects.count() == 1


def test_an_answer_after_the_deadline_expires_it_and_says_so(world: World) -> None:
    request = send(world)
    with pytest.raises(TransitionRefused) as error:
        placement_transition(
            request_id=request.pk, to=State.ACCEPTED, by=world.staff, now=request.deadline + timedelta(seconds=10)
        )
    assert "expired" in error.value.message or "verlopen" in error.value.message
    after = PlacementRequest.objects.get(pk=request.pk)
    assert after.state == State.EXPIRED and after.refusal is not None


def test_the_midwife_withdraws_and_nothing_is_counted(world: World) -> None:
    request = send(world)
    withdrawn = placement_transition(request_id=request.pk, to=State.WITHDRAWN, by=world.midwife)
    assert withdrawn.state == State.WITHDRAWN and withdrawn.refusal_id is None
    with pytest.raises(TransitionRefused):
        placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.staff)
    assert placement_expire_due(now=request.deadline + timedelta(minutes=1)) == 0
    assert not Refusal.objects.exists()


# --- one "no", one refusal: a refusal registered by hand is linked, never counted twice ----------


def manual(world: World, **kw: object) -> Refusal:
    from refusals.services import RefusalInput, refusal_register

    values: dict[str, object] = {
        "occurred_at": timezone.now(),
        "location_id": world.location.pk,
        "care_type": "overdracht",
        "reason": "no_staff",
        "outcome": "unknown",
    }
    values.update(kw)
    return refusal_register(by=world.midwife, data=RefusalInput(**values))  # type: ignore[arg-type]


def test_a_refusal_by_hand_after_the_decline_is_not_counted_again(world: World) -> None:
    from refusals.services import CountedAlready, RefusalInput, refusal_register

    request = send(world)
    placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff, reason="no_staff")
    with pytest.raises(CountedAlready) as counted:
        manual(world)
    request.refresh_from_db()
    assert counted.value.refusal.pk == request.refusal_id
    assert Refusal.objects.count() == 1
    # Another client refused there in the same hour: she says so, and it counts.
    data = RefusalInput(
        occurred_at=timezone.now(), location_id=world.location.pk, care_type="overdracht", reason="no_staff",
        outcome="unknown",
    )  # fmt: skip
    refusal_register(by=world.midwife, data=data, another_client=True)
    assert Refusal.objects.count() == 2


def test_a_refusal_by_hand_before_the_answer_is_the_one_the_request_links(world: World) -> None:
    request = send(world)
    by_hand = manual(world)  # she phoned, they said no; the request is still open
    placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff, reason="no_delivery_room")
    request.refresh_from_db()
    assert request.refusal_id == by_hand.pk
    assert Refusal.objects.count() == 1
    # An expiry links it just the same.
    second = send(world)
    by_hand_2 = manual(world, reason="admission_stop")
    placement_expire_due(now=second.deadline + timedelta(seconds=1))
    second.refresh_from_db()
    assert (second.state, second.refusal_id) == (State.EXPIRED, by_hand_2.pk)
    assert Refusal.objects.count() == 2


def test_a_refusal_at_another_location_is_not_linked(world: World) -> None:
    request = send(world)
    manual(world, location_id=world.other_location.pk)
    placement_transition(request_id=request.pk, to=State.DECLINED, by=world.staff, reason="no_staff")
    request.refresh_from_db()
    assert Refusal.objects.count() == 2 and request.refusal is not None and request.refusal.source == "request"


# --- parallel asking -------------------------------------------------------------------------


def parallel(world: World, limit: int, ids: list[int]) -> list[PlacementRequest]:
    from hospitals.models import Region
    from placements.services import placement_send_to

    Region.objects.filter(pk=world.region.pk).update(placement_parallel_max=limit)
    midwife = User.objects.get(pk=world.midwife.pk)
    data = PlacementInput(
        location_id=ids[0], care_type="overdracht", urgency="urgent",
        expected_arrival=timezone.now() + timedelta(minutes=30), callback_phone="06 1234 5678",
    )  # fmt: skip
    return placement_send_to(by=midwife, data=data, location_ids=ids)


def test_parallel_asking_is_off_by_default(world: World) -> None:
    with pytest.raises(ValidationError) as error:
        parallel(world, 1, [world.location.pk, world.other_location.pk])
    assert "location" in error.value.message_dict
    assert not PlacementRequest.objects.exists()


def test_a_region_allows_up_to_its_limit_and_the_first_acceptance_withdraws_the_others(world: World) -> None:
    a, b, c = parallel(world, 3, [world.location.pk, world.other_location.pk, world.far_location.pk])
    assert a.ask == b.ask == c.ask
    other_far = User.objects.create_user("farstaff", role=User.Role.HOSPITAL_STAFF)
    other_far.locations.set([world.far_location])
    placement_transition(request_id=b.pk, to=State.ACCEPTED, by=world.other_staff)
    a.refresh_from_db()
    c.refresh_from_db()
    assert (a.state, a.withdrawn_why, c.state) == (State.WITHDRAWN, "taken_elsewhere", State.WITHDRAWN)
    assert PlacementEvent.objects.filter(request=a, after="withdrawn", by=None, via="system").exists()
    with pytest.raises(TransitionRefused):
        placement_transition(request_id=c.pk, to=State.ACCEPTED, by=other_far)
    assert not Refusal.objects.exists()  # withdrawn is not a no


def test_more_than_the_limit_is_refused(world: World) -> None:
    with pytest.raises(ValidationError):
        parallel(world, 2, [world.location.pk, world.other_location.pk, world.far_location.pk])
    assert not PlacementRequest.objects.exists()


def test_escalation_joins_the_ask_and_stops_once_she_is_placed(world: World) -> None:
    first = send(world)
    placement_transition(request_id=first.pk, to=State.DECLINED, by=world.staff, reason="no_staff")
    data = PlacementInput(
        location_id=world.other_location.pk, care_type="overdracht", urgency="immediate",
        expected_arrival=timezone.now() + timedelta(minutes=20), callback_phone="06 1234 5678", ask=first.ask,
    )  # fmt: skip
    second = placement_send(by=world.midwife, data=data)
    assert second.ask == first.ask
    placement_transition(request_id=second.pk, to=State.ACCEPTED, by=world.other_staff)
    third = PlacementInput(**{**data.__dict__, "location_id": world.far_location.pk})
    with pytest.raises(ValidationError):
        placement_send(by=world.midwife, data=third)
    other = User.objects.create_user("m3", role=User.Role.MIDWIFE, organisation=world.practice)
    with pytest.raises(PermissionDenied):  # somebody else's ask
        placement_send(by=other, data=PlacementInput(**{**data.__dict__, "ask": first.ask}))
