from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from capacity.models import Unit
from refusals.models import Refusal, RefusalEvent
from refusals.services import (
    RefusalInput,
    StaleRefusal,
    refusal_correct,
    refusal_register,
    refusal_withdraw,
)
from tests.conftest import World

PATIENT_FIELDS = {"name", "first_name", "last_name", "bsn", "date_of_birth", "birth_date", "address", "postcode"}


def data(world: World, **kw: object) -> RefusalInput:
    base: dict[str, Any] = {
        "occurred_at": timezone.now() - timedelta(minutes=5),
        "location_id": world.location.pk,
        "care_type": Refusal.CareType.OVERDRACHT,
        "reason": Refusal.Reason.NO_DELIVERY_ROOM,
        "outcome": Refusal.Outcome.LOCATION,
        "outcome_location_id": world.other_location.pk,
        "gestational_weeks": 39,
        "hospitals_called": 2,
    }
    base.update(kw)
    return RefusalInput(**base)


def test_register_stores_refusal_snapshot_and_history(world: World) -> None:
    refusal = refusal_register(by=world.midwife, data=data(world))
    assert (refusal.region, refusal.practice, refusal.registered_by) == (world.region, world.practice, world.midwife)
    # The delivery suite showed 4 of 10 free and was fresh: the board showed room.
    assert refusal.board_showed_room is True
    kinds = {u["kind"]: u for u in refusal.board_snapshot["units"]}
    assert kinds["delivery_suite"]["available"] == 4 and kinds["delivery_suite"]["stale"] is False
    event = RefusalEvent.objects.get()
    assert (event.action, event.by, event.version, event.before) == ("register", world.midwife, 1, None)


def test_board_in_stop_or_stale_does_not_count_as_room(world: World) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(status="stop", stop_reason="staff")
    assert refusal_register(by=world.midwife, data=data(world)).board_showed_room is False
    Unit.objects.filter(pk=world.unit.pk).update(status="open", confirmed_at=timezone.now() - timedelta(hours=6))
    assert refusal_register(by=world.midwife, data=data(world)).board_showed_room is False


def test_model_holds_no_patient_identifiers() -> None:
    names = {f.name for f in Refusal._meta.get_fields()}
    assert not names & PATIENT_FIELDS


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"occurred_at": timezone.now() + timedelta(hours=1)}, "occurred_at"),
        ({"occurred_at": timezone.now() - timedelta(days=30)}, "occurred_at"),
        ({"gestational_weeks": 15}, "gestational_weeks"),
        ({"gestational_weeks": 45}, "gestational_weeks"),
        ({"outcome_location_id": None}, "outcome_location"),
        ({"outcome_location_id": -1}, "outcome_location"),
        ({"hospitals_called": 0}, "hospitals_called"),
        ({"reason": "weather"}, "reason"),
        ({"care_type": "x"}, "care_type"),
        ({"note": "x" * 281}, "note"),
    ],
)
def test_bad_input_is_refused_and_nothing_saved(world: World, kw: dict[str, object], field: str) -> None:
    if kw.get("outcome_location_id") == -1:
        kw["outcome_location_id"] = world.location.pk  # the location that refused
    with pytest.raises(ValidationError) as exc:
        refusal_register(by=world.midwife, data=data(world, **kw))
    assert field in exc.value.message_dict
    assert not Refusal.objects.exists() and not RefusalEvent.objects.exists()


@pytest.mark.parametrize("persona", ["staff", "coordinator", "org_admin", "national_admin"])
def test_only_midwives_register(world: World, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        refusal_register(by=world.personas()[persona], data=data(world))


def test_correct_and_withdraw_own_refusal_within_the_window(world: World) -> None:
    refusal = refusal_register(by=world.midwife, data=data(world))
    corrected = refusal_correct(
        refusal_id=refusal.pk,
        by=world.midwife,
        expected_version=1,
        data=data(world, reason=Refusal.Reason.NO_STAFF, outcome=Refusal.Outcome.HOME),
    )
    assert (corrected.reason, corrected.outcome, corrected.outcome_location, corrected.version) == (
        "no_staff",
        "home",
        None,
        2,
    )
    with pytest.raises(StaleRefusal):
        refusal_withdraw(refusal_id=refusal.pk, by=world.midwife, expected_version=1)
    withdrawn = refusal_withdraw(refusal_id=refusal.pk, by=world.midwife, expected_version=2)
    assert withdrawn.withdrawn_at is not None and withdrawn.version == 3
    assert list(RefusalEvent.objects.values_list("action", flat=True)) == ["register", "correct", "withdraw"]
    with pytest.raises(PermissionDenied):  # withdrawn: no more changes
        refusal_withdraw(refusal_id=refusal.pk, by=world.midwife, expected_version=3)


def test_nobody_else_and_not_after_the_window(world: World, settings) -> None:
    refusal = refusal_register(by=world.midwife, data=data(world))
    other = type(world.midwife).objects.create_user(username="m2", role="midwife", organisation=world.practice)
    with pytest.raises(PermissionDenied):
        refusal_withdraw(refusal_id=refusal.pk, by=other, expected_version=1)
    Refusal.objects.filter(pk=refusal.pk).update(registered_at=timezone.now() - timedelta(hours=25))
    with pytest.raises(PermissionDenied):
        refusal_correct(refusal_id=refusal.pk, by=world.midwife, expected_version=1, data=data(world))


def test_refusal_history_is_append_only(world: World) -> None:
    refusal_register(by=world.midwife, data=data(world))
    event = RefusalEvent.objects.get()
    event.after = {}
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def test_a_closed_delivery_ward_does_not_make_a_birth_centre_show_room(world: World) -> None:
    """As in the search, a delivery suite counts only where the location offers 24/7 obstetrics."""
    from tests.test_views_refusals import closed_ward

    location = closed_ward(world)  # its leftover delivery suite shows 4 free
    Unit.objects.create(
        location=location, kind=Unit.Kind.BIRTH_CENTRE, staffed_total=2, available=0, status="stop", stop_reason="staff"
    )
    refusal = refusal_register(
        by=world.midwife, data=data(world, location_id=location.pk, care_type=Refusal.CareType.BEGELEIDING)
    )
    assert refusal.board_showed_room is False
    assert {u["kind"] for u in refusal.board_snapshot["units"]} == {"delivery_suite", "birth_centre"}
    with pytest.raises(ValidationError) as caught:
        refusal_register(by=world.midwife, data=data(world, location_id=world.location.pk + 999))
    assert "location" in caught.value.message_dict
