"""kraamzorg.services: the week grid's writes, their rules in words, versions, history, who may."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from kraamzorg.models import IntakeEvent, IntakeWeek
from kraamzorg.selectors import grid, is_stale
from kraamzorg.services import (
    IntakeChange,
    IntakeVersionConflict,
    intake_confirm_unchanged,
    intake_week_set,
    weeks_ahead,
)
from tests.conftest import Kraamzorg, World

pytestmark = pytest.mark.django_db

OPEN = IntakeChange(families=4, hours="full", status="open")


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    with translation.override("en"):  # the messages' words below; Dutch is checked on its own
        yield


def set_week(kz: Kraamzorg, week: date, change: IntakeChange = OPEN, version: int = 0, **kw: Any) -> IntakeWeek:
    return intake_week_set(
        by=kz.planner, organisation_id=kz.organisation.pk, week=week, change=change, expected_version=version, **kw
    )


def errors_of(raised: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return {field: [str(m) for m in messages] for field, messages in raised.value.message_dict.items()}


def test_the_grid_is_this_week_and_the_next_eleven_in_dutch_time() -> None:
    # Sunday 23:30 in Amsterdam is still the week of Monday the 30th of November.
    sunday_late = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)
    weeks = weeks_ahead(sunday_late)
    assert (weeks[0], weeks[-1], len(weeks)) == (date(2026, 11, 30), date(2027, 2, 15), 12)
    assert weeks_ahead(sunday_late + timedelta(hours=1))[0] == date(2026, 12, 7)  # Monday 00:30
    assert all(w.weekday() == 0 for w in weeks)


def test_a_planner_fills_in_a_week_and_it_is_recorded(kz: Kraamzorg) -> None:
    week = weeks_ahead()[2]
    row = set_week(kz, week)
    assert (row.families, row.hours, row.status, row.version, row.updated_by) == (4, "full", "open", 1, kz.planner)
    event = IntakeEvent.objects.get()
    assert (event.action, event.source, event.by, event.version, event.before) == ("update", "web", kz.planner, 1, None)
    assert event.after == {"families": 4, "hours": "full", "minimum_hours": None, "status": "open", "reason": ""}

    limited = IntakeChange(families=2, hours="minimum", minimum_hours=24, status="limited", reason="staff")
    row = set_week(kz, week, limited, version=1, source="api")
    assert (row.families, row.minimum_hours, row.status, row.reason, row.version) == (2, 24, "limited", "staff", 2)
    second = IntakeEvent.objects.order_by("version").last()
    assert second is not None
    assert second.before is not None
    assert (second.source, second.before["families"], second.after["minimum_hours"]) == ("api", 4, 24)


def test_a_stale_version_writes_nothing_and_says_what_is_stored(kz: Kraamzorg) -> None:
    week = weeks_ahead()[0]
    set_week(kz, week)
    with pytest.raises(IntakeVersionConflict) as raised:
        set_week(kz, week, IntakeChange(families=9, hours="full", status="open"), version=0)  # saw it empty
    assert [row.families for row in raised.value.current] == [4]
    with pytest.raises(IntakeVersionConflict):
        set_week(kz, weeks_ahead()[1], version=3)  # a version of a week that was never filled
    assert IntakeWeek.objects.get().families == 4 and IntakeEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (IntakeChange(families=-1, hours="full", status="open"), "families", "cannot be negative"),
        (IntakeChange(families=1000, hours="full", status="open"), "families", "At most 999"),
        (IntakeChange(families=3, hours="some", status="open"), "hours", "full indicated hours or a stated minimum"),
        (IntakeChange(families=3, hours="minimum", status="open"), "minimum_hours", "1 to 48"),
        (IntakeChange(families=3, hours="minimum", minimum_hours=49, status="open"), "minimum_hours", "1 to 48"),
        (IntakeChange(families=3, hours="full", status="closed"), "status", "open, limited or intake stop"),
        (IntakeChange(families=3, hours="full", status="limited"), "reason", "needs a reason"),
        (IntakeChange(families=3, hours="full", status="stop", reason="staff"), "families", "set the number to 0"),
    ],
)
def test_bad_figures_get_a_message_on_their_field_and_nothing_is_saved(
    kz: Kraamzorg, change: IntakeChange, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        set_week(kz, weeks_ahead()[0], change)
    assert any(words in m for m in errors_of(raised)[field]), errors_of(raised)
    assert not IntakeWeek.objects.exists() and not IntakeEvent.objects.exists()


def test_only_weeks_of_the_grid_can_be_set(kz: Kraamzorg) -> None:
    first = weeks_ahead()[0]
    for week in (first - timedelta(days=7), first + timedelta(days=7 * 12), first + timedelta(days=1)):
        with pytest.raises(ValidationError) as raised:
            set_week(kz, week)
        assert "coming 12 weeks" in errors_of(raised)["week"][0]
    assert not IntakeWeek.objects.exists()


def test_what_is_stored_drops_a_minimum_with_full_hours_and_a_reason_with_an_open_intake(kz: Kraamzorg) -> None:
    row = set_week(kz, weeks_ahead()[0], IntakeChange(families=1, hours="full", minimum_hours=24, status="open",
                                                      reason="staff"))  # fmt: skip
    assert (row.minimum_hours, row.reason) == (None, "")


def test_only_a_planner_of_the_organisation_writes_its_grid(kz: Kraamzorg, world: World) -> None:
    week = weeks_ahead()[0]
    others = [kz.other_planner, world.midwife, world.staff, world.coordinator, world.org_admin, world.national_admin]
    for user in others:
        with pytest.raises(PermissionDenied):
            intake_week_set(by=user, organisation_id=kz.organisation.pk, week=week, change=OPEN, expected_version=0)
    kz.planner.is_active = False
    kz.planner.save()
    with pytest.raises(PermissionDenied):
        set_week(kz, week)
    with pytest.raises(PermissionDenied):
        intake_confirm_unchanged(by=kz.other_planner, organisation_id=kz.organisation.pk, versions={week: 1})
    assert not IntakeWeek.objects.exists()


def test_the_whole_grid_is_confirmed_in_one_call(kz: Kraamzorg) -> None:
    weeks = weeks_ahead()
    for week in weeks:
        set_week(kz, week)
    IntakeWeek.objects.update(confirmed_at=timezone.now() - timedelta(days=8))  # a week and a day went by
    assert all(w.stale for w in grid(kz.organisation.pk))
    rows = intake_confirm_unchanged(
        by=kz.planner,
        organisation_id=kz.organisation.pk,
        versions={w.week: w.version for w in grid(kz.organisation.pk)},
    )
    assert [row.version for row in rows] == [2] * 12
    assert not any(w.stale for w in grid(kz.organisation.pk))
    confirms = IntakeEvent.objects.filter(action="confirm")
    assert confirms.count() == 12 and {e.by for e in confirms} == {kz.planner}
    assert all(e.before == e.after for e in confirms)


def test_a_confirm_on_a_changed_week_confirms_nothing(kz: Kraamzorg) -> None:
    weeks = weeks_ahead()[:3]
    for week in weeks:
        set_week(kz, week)
    set_week(kz, weeks[1], IntakeChange(families=0, hours="full", status="stop", reason="full"), version=1)
    with pytest.raises(IntakeVersionConflict) as raised:
        intake_confirm_unchanged(by=kz.planner, organisation_id=kz.organisation.pk, versions=dict.fromkeys(weeks, 1))
    assert {row.week: row.status for row in raised.value.current}[weeks[1]] == "stop"
    assert not IntakeEvent.objects.filter(action="confirm").exists()
    assert list(IntakeWeek.objects.order_by("week").values_list("version", flat=True)) == [1, 2, 1]


def test_a_week_never_filled_in_cannot_be_confirmed(kz: Kraamzorg) -> None:
    weeks = weeks_ahead()
    set_week(kz, weeks[0])
    with pytest.raises(ValidationError) as raised:
        intake_confirm_unchanged(by=kz.planner, organisation_id=kz.organisation.pk, versions={weeks[0]: 1, weeks[1]: 0})
    assert "Fill in week" in errors_of(raised)["week"][0]
    assert IntakeWeek.objects.get().version == 1


def test_staleness_after_seven_days(kz: Kraamzorg) -> None:
    now = timezone.now()
    row = set_week(kz, weeks_ahead()[0], now=now - timedelta(days=7) + timedelta(minutes=1))
    assert not is_stale(row, now) and is_stale(row, now + timedelta(minutes=2)) and is_stale(None, now)


def test_the_database_refuses_what_the_rules_refuse(kz: Kraamzorg) -> None:
    week = weeks_ahead()[0]
    bad = [
        {"families": 2, "hours": "full", "status": "stop", "reason": "staff"},
        {"families": 2, "hours": "minimum", "minimum_hours": None, "status": "open"},
        {"families": 2, "hours": "full", "status": "limited", "reason": ""},
    ]
    for values in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            IntakeWeek.objects.create(organisation=kz.organisation, week=week, **values)


def test_the_messages_are_dutch_by_default(kz: Kraamzorg) -> None:
    with translation.override("nl"), pytest.raises(ValidationError) as raised:
        set_week(kz, weeks_ahead()[0], IntakeChange(families=3, hours="full", status="stop", reason="staff"))
    assert errors_of(raised)["families"] == [
        "Bij een opnamestop worden geen nieuwe gezinnen opgenomen: zet het aantal op 0."
    ]
