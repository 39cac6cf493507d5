"""kraamzorg.shortages: registering and withdrawing a shortage, its rules in words, who may, history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from hospitals.models import Postcode
from kraamzorg.models import Shortage, ShortageEvent, monday_of
from kraamzorg.shortages import (
    ShortageInput,
    StaleShortage,
    due_week_range,
    shortage_register,
    shortage_withdraw,
)
from kraamzorg.signals import shortage_changed
from tests.conftest import Kraamzorg, World
from tests.test_services_refusals import PATIENT_FIELDS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def postcodes() -> None:
    Postcode.objects.create(pk="3584", place="Utrecht", municipality="Utrecht", province="Utrecht",
                            latitude=52.08, longitude=5.17)  # fmt: skip


def this_monday() -> Any:
    return monday_of(timezone.localdate())


def data(**kw: Any) -> ShortageInput:
    fields: dict[str, Any] = {
        "pc4": "3584", "due_week": this_monday() + timedelta(weeks=3), "indicated_hours": 49,
        "promised_hours": 24, "reason": Shortage.Reason.STAFF, "vulnerable": Shortage.Vulnerable.YES,
    }  # fmt: skip
    fields.update(kw)
    return ShortageInput(**fields)


def test_a_midwife_registers_a_shortage_attributably(world: World, django_capture_on_commit_callbacks: Any) -> None:
    sent: list[int] = []

    def listen(sender: object, shortage_id: int, **kw: object) -> None:
        sent.append(shortage_id)

    shortage_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            shortage = shortage_register(by=world.midwife, data=data(due_week=this_monday() + timedelta(days=23)))
    finally:
        shortage_changed.disconnect(listen)
    assert (shortage.region, shortage.registered_by, shortage.registered_for) == (
        world.region, world.midwife, world.practice)  # fmt: skip
    assert shortage.municipality == "Utrecht" and shortage.hours_short == 25
    assert shortage.due_week == this_monday() + timedelta(weeks=3)  # any day of the week: its Monday
    assert shortage.organisation is None
    event = ShortageEvent.objects.get()
    assert (event.action, event.by, event.version, event.before) == ("register", world.midwife, 1, None)
    assert event.after["promised_hours"] == 24
    assert sent == [shortage.pk]


def test_a_planner_registers_for_their_own_organisation(world: World, kz: Kraamzorg) -> None:
    shortage = shortage_register(by=kz.planner, data=data(reason=Shortage.Reason.NO_INTAKE, promised_hours=0))
    assert shortage.organisation == kz.organisation and shortage.registered_for == kz.organisation
    assert shortage.hours_short == 49
    other = kz.other_planner.organisation_id
    with pytest.raises(ValidationError) as exc:
        shortage_register(by=kz.planner, data=data(organisation_id=other))
    assert "organisation" in exc.value.message_dict


def test_model_holds_no_patient_identifiers() -> None:
    names = {f.name for f in Shortage._meta.get_fields()} | {f.name for f in ShortageEvent._meta.get_fields()}
    assert not names & PATIENT_FIELDS
    # No free text a name could be typed into: every character field is a code or reference data.
    free_text = [
        f.name for f in Shortage._meta.concrete_fields
        if f.get_internal_type() in ("CharField", "TextField") and not f.choices
    ]  # fmt: skip
    assert sorted(free_text) == ["municipality", "pc4"]


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"pc4": "35"}, "pc4", "4 digits"),
        ({"pc4": "0123"}, "pc4", "4 digits"),
        ({"pc4": "9999"}, "pc4", "not a known"),
        ({"due_week": timezone.localdate() + timedelta(weeks=60)}, "due_week", "must lie between"),
        ({"due_week": timezone.localdate() - timedelta(weeks=20)}, "due_week", "must lie between"),
        ({"indicated_hours": 0}, "indicated_hours", "1 to 80"),
        ({"indicated_hours": 81}, "indicated_hours", "1 to 80"),
        ({"promised_hours": -1}, "promised_hours", "0 (no kraamzorg)"),
        ({"promised_hours": 49}, "promised_hours", "fewer than the indicated"),
        ({"reason": "weather"}, "reason", "reason"),
        ({"vulnerable": "maybe"}, "vulnerable", "yes, no or unknown"),
        ({"organisation_id": -5}, "organisation", "kraamzorg organisation"),
    ],
)
def test_bad_input_is_refused_per_field_and_nothing_saved(
    world: World, kw: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        shortage_register(by=world.midwife, data=data(**kw))
    assert field in exc.value.message_dict and words in " ".join(exc.value.message_dict[field])
    assert not Shortage.objects.exists() and not ShortageEvent.objects.exists()


def test_the_messages_are_dutch_by_default(world: World) -> None:
    with translation.override("nl"), pytest.raises(ValidationError) as exc:
        shortage_register(by=world.midwife, data=data(pc4="12"))
    assert "cijfers" in exc.value.message_dict["pc4"][0]


def test_a_hospital_organisation_is_not_a_kraamzorg_organisation(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        shortage_register(by=world.midwife, data=data(organisation_id=world.hospital.pk))
    assert "organisation" in exc.value.message_dict


@pytest.mark.parametrize("persona", ["staff", "coordinator", "org_admin", "national_admin", "no_role"])
def test_only_midwives_and_planners_register(world: World, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        shortage_register(by=world.personas()[persona], data=data())
    assert not Shortage.objects.exists()


def test_a_deactivated_midwife_cannot_register(world: World) -> None:
    world.midwife.is_active = False
    world.midwife.save()
    with pytest.raises(PermissionDenied):
        shortage_register(by=world.midwife, data=data())


def test_withdraw_own_registration_within_the_window(world: World, kz: Kraamzorg) -> None:
    shortage = shortage_register(by=world.midwife, data=data())
    with pytest.raises(PermissionDenied):  # someone else
        shortage_withdraw(shortage_id=shortage.pk, by=kz.planner, expected_version=1)
    with pytest.raises(StaleShortage):
        shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=7)
    withdrawn = shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=1)
    assert withdrawn.withdrawn_at is not None and withdrawn.version == 2
    event = ShortageEvent.objects.order_by("id").last()
    assert event is not None and event.before is not None
    assert (event.action, event.before["withdrawn"], event.after["withdrawn"]) == (
        "withdraw", False, True)  # fmt: skip
    with pytest.raises(PermissionDenied):  # once
        shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=2)


def test_withdraw_after_the_window_is_refused(world: World) -> None:
    shortage = shortage_register(by=world.midwife, data=data())
    Shortage.objects.filter(pk=shortage.pk).update(registered_at=timezone.now() - timedelta(hours=25))
    with pytest.raises(PermissionDenied):
        shortage_withdraw(shortage_id=shortage.pk, by=world.midwife, expected_version=1)


def test_the_due_week_window_is_whole_weeks() -> None:
    first, last = due_week_range()
    assert first.weekday() == last.weekday() == 0 and (last - first).days == 7 * 56


def test_the_database_keeps_promised_below_indicated(world: World) -> None:
    shortage = shortage_register(by=world.midwife, data=data())
    with pytest.raises(IntegrityError), transaction.atomic():
        Shortage.objects.filter(pk=shortage.pk).update(promised_hours=60)
