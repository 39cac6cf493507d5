"""The beat's staleness run: flag once, push once, remind once, and start over after a confirmation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from capacity import live, staleness
from capacity.models import CapacityEvent, Unit
from capacity.services import CapacityChange, unit_confirm_unchanged, unit_update_capacity
from tests.conftest import World


@pytest.fixture(autouse=True)
def thresholds(settings: Settings) -> None:
    """The documented defaults, independent of the environment the suite runs in."""
    settings.CAPACITY_STALE_AFTER = timedelta(hours=4)
    settings.CAPACITY_REMIND_BEFORE = timedelta(minutes=30)


def confirmed_ago(unit: Unit, delta: timedelta) -> None:
    Unit.objects.filter(pk=unit.pk).update(confirmed_at=timezone.now() - delta)


def run_committed(capture: DjangoCaptureOnCommitCallbacks) -> dict[str, int]:
    """One beat run, with its after-commit work (pushes, mails) executed as in production."""
    with capture(execute=True):
        return staleness.run()


def events(unit: Unit, action: str) -> list[CapacityEvent]:
    return list(CapacityEvent.objects.filter(unit=unit, action=action))


def test_stale_unit_is_flagged_recorded_and_pushed_once(
    world: World, published: list[dict[str, object]], django_capture_on_commit_callbacks, mailoutbox
) -> None:
    confirmed_ago(world.unit, timedelta(hours=5))

    first = run_committed(django_capture_on_commit_callbacks)
    second = run_committed(django_capture_on_commit_callbacks)

    assert first == {"stale": 1, "stop_overdue": 0, "reminders": 0}
    assert second == {"stale": 0, "stop_overdue": 0, "reminders": 0}
    unit = Unit.objects.get(pk=world.unit.pk)
    assert unit.stale_flagged_at is not None and unit.version == 1
    [event] = CapacityEvent.objects.all()
    assert (event.unit_id, event.action, event.source, event.by) == (world.unit.pk, "stale", "system", None)
    assert event.version == 1 and event.before == event.after == unit.snapshot()
    assert [e["location_id"] for e in published] == [world.location.pk]
    frames = published[0]["frames"]
    assert isinstance(frames, dict) and "Verouderd" in frames["nl"] and "Out of date" in frames["en"]
    # Already stale when first seen: there is nothing left to remind anyone of.
    assert mailoutbox == []


def test_fresh_units_are_left_alone(
    world: World, published: list[dict[str, object]], django_capture_on_commit_callbacks, mailoutbox
) -> None:
    confirmed_ago(world.unit, timedelta(hours=3))  # before the reminder window

    result = run_committed(django_capture_on_commit_callbacks)

    assert result == {"stale": 0, "stop_overdue": 0, "reminders": 0}
    assert not Unit.objects.filter(stale_flagged_at__isnull=False).exists()
    assert not Unit.objects.filter(reminder_sent_at__isnull=False).exists()
    assert not CapacityEvent.objects.exists()
    assert published == [] and mailoutbox == []


def test_the_stale_threshold_is_configurable(
    world: World, settings, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    settings.CAPACITY_STALE_AFTER = timedelta(minutes=90)
    confirmed_ago(world.unit, timedelta(hours=2))

    assert run_committed(django_capture_on_commit_callbacks)["stale"] == 1
    assert [e.unit_id for e in CapacityEvent.objects.filter(action="stale")] == [world.unit.pk]


def test_staff_of_the_location_get_one_reminder_shortly_before(
    world: World, published: list[dict[str, object]], django_capture_on_commit_callbacks, mailoutbox
) -> None:
    confirmed_ago(world.unit, timedelta(hours=3, minutes=40))

    first = run_committed(django_capture_on_commit_callbacks)
    second = run_committed(django_capture_on_commit_callbacks)

    assert first == {"stale": 0, "stop_overdue": 0, "reminders": 1}
    assert second == {"stale": 0, "stop_overdue": 0, "reminders": 0}
    [mail] = mailoutbox
    assert mail.to == [world.staff.email]
    assert world.other_staff.email not in mail.to + mail.cc + mail.bcc
    assert world.location.name in mail.subject
    assert reverse("capacity:my_units") in mail.body and world.location.name in mail.body
    unit = Unit.objects.get(pk=world.unit.pk)
    assert unit.reminder_sent_at is not None and unit.stale_flagged_at is None
    # A reminder is not a change of the board: nothing recorded, nothing pushed.
    assert not CapacityEvent.objects.exists()
    assert published == []


def test_units_of_one_location_due_together_share_one_mail(
    world: World, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    confirmed_ago(world.unit, timedelta(hours=3, minutes=40))
    confirmed_ago(world.nicu, timedelta(hours=3, minutes=50))
    confirmed_ago(world.other_unit, timedelta(hours=3, minutes=45))

    result = run_committed(django_capture_on_commit_callbacks)

    assert result["reminders"] == 3
    recipients = sorted(tuple(m.to) for m in mailoutbox)
    assert recipients == sorted([(world.staff.email,), (world.other_staff.email,)])
    [own] = [m for m in mailoutbox if m.to == [world.staff.email]]
    assert "NICU" in own.body


def test_overdue_stop_is_flagged_once(
    world: World, published: list[dict[str, object]], django_capture_on_commit_callbacks
) -> None:
    unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        expected_version=1,
        change=CapacityChange(
            staffed_total=10,
            available=0,
            status=Unit.Status.STOP,
            stop_reason=Unit.StopReason.STAFF,
            stop_expected_end=timezone.now() + timedelta(hours=2),
        ),
    )
    # The expected end passes (the service rightly refuses an end in the past).
    Unit.objects.filter(pk=world.unit.pk).update(stop_expected_end=timezone.now() - timedelta(minutes=5))

    first = run_committed(django_capture_on_commit_callbacks)
    second = run_committed(django_capture_on_commit_callbacks)

    assert first == {"stale": 0, "stop_overdue": 1, "reminders": 0}
    assert second == {"stale": 0, "stop_overdue": 0, "reminders": 0}
    [event] = events(world.unit, "stop_overdue")
    assert (event.source, event.by, event.version) == ("system", None, 2)
    assert Unit.objects.get(pk=world.unit.pk).stop_overdue_flagged_at is not None
    assert [e["location_id"] for e in published] == [world.location.pk]
    frames = published[0]["frames"]
    assert isinstance(frames, dict) and "Stop past its expected end" in frames["en"]


def test_setting_a_new_stop_end_lets_the_stop_be_flagged_again(
    world: World, django_capture_on_commit_callbacks
) -> None:
    stop: dict[str, Any] = {
        "staffed_total": 10,
        "available": 0,
        "status": Unit.Status.STOP,
        "stop_reason": Unit.StopReason.BEDS,
    }
    unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        expected_version=1,
        change=CapacityChange(**stop, stop_expected_end=timezone.now() + timedelta(hours=1)),
    )
    Unit.objects.filter(pk=world.unit.pk).update(stop_expected_end=timezone.now() - timedelta(minutes=1))
    assert run_committed(django_capture_on_commit_callbacks)["stop_overdue"] == 1

    unit = unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        expected_version=2,
        change=CapacityChange(**stop, stop_expected_end=timezone.now() + timedelta(hours=1)),
    ).unit
    assert unit.stop_overdue_flagged_at is None
    assert run_committed(django_capture_on_commit_callbacks)["stop_overdue"] == 0

    Unit.objects.filter(pk=world.unit.pk).update(stop_expected_end=timezone.now() - timedelta(minutes=1))
    assert run_committed(django_capture_on_commit_callbacks)["stop_overdue"] == 1
    assert len(events(world.unit, "stop_overdue")) == 2


@pytest.mark.parametrize("how", ["confirm", "update", "same_figures"])
def test_confirming_or_updating_clears_the_flags_so_they_can_fire_again(
    world: World, how: str, published: list[dict[str, object]], django_capture_on_commit_callbacks, mailoutbox
) -> None:
    confirmed_ago(world.unit, timedelta(hours=3, minutes=40))
    assert run_committed(django_capture_on_commit_callbacks)["reminders"] == 1
    confirmed_ago(world.unit, timedelta(hours=5))
    assert run_committed(django_capture_on_commit_callbacks)["stale"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        if how == "confirm":
            unit = unit_confirm_unchanged(unit_id=world.unit.pk, by=world.staff, expected_version=1)
        else:
            available = 2 if how == "update" else 4
            unit = unit_update_capacity(
                unit_id=world.unit.pk,
                by=world.staff,
                expected_version=1,
                change=CapacityChange(staffed_total=10, available=available, status=Unit.Status.OPEN),
            ).unit
    unit.refresh_from_db()
    assert unit.stale_flagged_at is None and unit.reminder_sent_at is None and not unit.is_stale()
    assert run_committed(django_capture_on_commit_callbacks) == {"stale": 0, "stop_overdue": 0, "reminders": 0}

    # Hours later the figures age again: a new reminder, then a new stale flag and push.
    confirmed_ago(world.unit, timedelta(hours=3, minutes=45))
    assert run_committed(django_capture_on_commit_callbacks)["reminders"] == 1
    confirmed_ago(world.unit, timedelta(hours=4, minutes=1))
    assert run_committed(django_capture_on_commit_callbacks)["stale"] == 1

    assert len(events(world.unit, "stale")) == 2
    assert len(mailoutbox) == 2
    # stale, the staff's change, stale again: each pushed the location's row.
    assert [e["location_id"] for e in published] == [world.location.pk] * 3


def test_board_row_of_a_stale_unit_says_so_in_words(world: World) -> None:
    rendered = live.render_location_frames(world.location.pk)
    assert rendered is not None
    _region, frames = rendered
    assert "Verouderd" not in frames["nl"] and "Out of date" not in frames["en"]

    confirmed_ago(world.unit, timedelta(hours=5))
    rendered = live.render_location_frames(world.location.pk)
    assert rendered is not None
    region_id, frames = rendered
    assert region_id == world.region.pk
    assert frames["nl"].count("Verouderd") == 1  # the delivery suite, not the fresh NICU
    assert frames["en"].count("Out of date") == 1
    # The label sits next to a text marker, not only in a coloured class.
    assert "◷</span> Verouderd" in frames["nl"]


def test_confirmation_between_the_beats_query_and_its_flag_wins(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    """The beat lists stale units, then flags them one by one; staff may confirm in between."""
    confirmed_ago(world.unit, timedelta(hours=5))
    real_flag = staleness.unit_flag

    def staff_confirms_first(**kwargs: Any) -> Any:
        unit_confirm_unchanged(unit_id=kwargs["unit_id"], by=world.staff, expected_version=None)
        return real_flag(**kwargs)

    monkeypatch.setattr(staleness, "unit_flag", staff_confirms_first)
    result = run_committed(django_capture_on_commit_callbacks)

    assert result["stale"] == 0
    unit = Unit.objects.get(pk=world.unit.pk)
    # Otherwise the flag stays set on fresh figures, and when they really go stale
    # four hours later nothing is flagged, pushed or reminded.
    assert unit.stale_flagged_at is None
    assert not CapacityEvent.objects.filter(action="stale").exists()
