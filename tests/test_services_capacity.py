from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from capacity import live
from capacity.models import CapacityEvent, Unit
from capacity.services import (
    CapacityChange,
    UnitsVersionConflict,
    UnknownUnitKinds,
    VersionConflict,
    location_update_capacity,
    unit_confirm_unchanged,
    unit_update_capacity,
    units_confirm_unchanged,
)
from tests.conftest import World


def change(**kw: object) -> CapacityChange:
    base: dict[str, Any] = {"staffed_total": 10, "available": 3, "status": Unit.Status.OPEN}
    base.update(kw)
    return CapacityChange(**base)


def test_update_writes_state_history_and_pushes_after_commit(
    world: World, published: list[dict[str, object]], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        unit = unit_update_capacity(
            unit_id=world.unit.pk, by=world.staff, change=change(available=2), expected_version=1
        ).unit
    assert (unit.available, unit.version, unit.updated_by, unit.confirmed_by) == (2, 2, world.staff, world.staff)
    event = CapacityEvent.objects.get()
    assert (event.action, event.source, event.by, event.version) == ("update", "web", world.staff, 2)
    assert event.before["available"] == 4 and event.after["available"] == 2
    assert len(callbacks) == 1
    assert published[0]["location_id"] == world.location.pk
    assert published[0]["groups"] == [f"region-{world.region.pk}", "national", f"location-{world.location.pk}"]
    frames = published[0]["frames"]
    assert isinstance(frames, dict) and set(frames) == {"nl", "en", live.JSON_FRAME}
    assert f'id="location-{world.location.pk}"' in frames["nl"] and 'hx-swap-oob="true"' in frames["nl"]
    assert "Opnamestop" not in frames["nl"]


def test_nothing_is_pushed_when_the_transaction_rolls_back(world: World, published: list[dict[str, object]]) -> None:
    with pytest.raises(VersionConflict):
        unit_update_capacity(unit_id=world.unit.pk, by=world.staff, change=change(), expected_version=7)
    assert published == []
    assert CapacityEvent.objects.count() == 0


def test_stale_version_is_refused_with_the_current_state(world: World) -> None:
    unit_update_capacity(unit_id=world.unit.pk, by=world.staff, change=change(available=1), expected_version=1)
    with pytest.raises(VersionConflict) as exc:
        unit_update_capacity(
            unit_id=world.unit.pk, by=world.other_staff, change=change(available=9), expected_version=1
        )
    assert exc.value.current.available == 1 and exc.value.current.version == 2
    assert Unit.objects.get(pk=world.unit.pk).available == 1


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"available": 11}, "available"),
        ({"available": -1}, "available"),
        ({"staffed_total": -2, "available": 0}, "staffed_total"),
        ({"status": Unit.Status.STOP, "available": 0}, "stop_reason"),
        (
            {
                "status": Unit.Status.STOP,
                "stop_reason": "beds",
                "stop_expected_end": timezone.now() - timedelta(minutes=1),
            },
            "stop_expected_end",
        ),
        ({"status": "closed"}, "status"),
        ({"note": "x" * 201}, "note"),
    ],
)
def test_invalid_changes_are_refused_per_field_and_nothing_is_saved(
    world: World, kw: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        unit_update_capacity(unit_id=world.unit.pk, by=world.staff, change=change(**kw), expected_version=1)
    assert field in exc.value.message_dict
    unit = Unit.objects.get(pk=world.unit.pk)
    assert (unit.available, unit.version) == (4, 1)
    assert not CapacityEvent.objects.exists()


def test_stop_keeps_reason_and_end_and_reopening_clears_them(world: World) -> None:
    end = timezone.now() + timedelta(hours=3)
    unit = unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        expected_version=1,
        change=change(available=0, status=Unit.Status.STOP, stop_reason="staff", stop_expected_end=end),
    ).unit
    assert (unit.status, unit.stop_reason, unit.stop_expected_end) == ("stop", "staff", end)
    unit = unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        expected_version=2,
        change=change(available=2, stop_reason="staff", stop_expected_end=end),
    ).unit
    assert (unit.status, unit.stop_reason, unit.stop_expected_end) == ("open", "", None)


def test_same_figures_again_only_confirm(world: World) -> None:
    old = Unit.objects.get(pk=world.unit.pk)
    unit = unit_update_capacity(
        unit_id=world.unit.pk, by=world.other_staff, change=change(available=4), expected_version=1
    ).unit
    assert unit.version == 1 and unit.confirmed_at > old.confirmed_at and unit.updated_at == old.updated_at
    assert CapacityEvent.objects.get().action == "confirm"


def test_confirm_unchanged_resets_staleness_and_is_recorded(world: World) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(
        confirmed_at=timezone.now() - timedelta(hours=5), stale_flagged_at=timezone.now()
    )
    assert Unit.objects.get(pk=world.unit.pk).is_stale()
    unit = unit_confirm_unchanged(unit_id=world.unit.pk, by=world.staff, expected_version=1)
    assert not unit.is_stale() and unit.stale_flagged_at is None and unit.version == 1
    event = CapacityEvent.objects.get()
    assert (event.action, event.by) == ("confirm", world.staff)


def test_history_is_append_only(world: World) -> None:
    unit_update_capacity(unit_id=world.unit.pk, by=world.staff, change=change(available=2), expected_version=1)
    event = CapacityEvent.objects.get()
    event.after = {}
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def test_change_is_saved_even_when_redis_is_unreachable(
    world: World, settings, django_capture_on_commit_callbacks
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with django_capture_on_commit_callbacks(execute=True):
        unit = unit_update_capacity(
            unit_id=world.unit.pk, by=world.staff, change=change(available=1), expected_version=1
        ).unit
    assert unit.available == 1 and Unit.objects.get(pk=world.unit.pk).version == 2
    assert CapacityEvent.objects.filter(unit=world.unit).count() == 1


def test_a_retried_write_confirms_only_when_the_caller_asks_and_the_figures_match(world: World) -> None:
    """The retry-as-confirmation rule lives in the service: a hospital system's retry after a lost
    answer confirms; the staff page (no retry_confirms) still sees the conflict."""
    first = unit_update_capacity(unit_id=world.unit.pk, by=world.staff, change=change(available=1), expected_version=1)
    assert first.updated and first.unit.version == 2
    with pytest.raises(VersionConflict):
        unit_update_capacity(unit_id=world.unit.pk, by=world.staff, change=change(available=1), expected_version=1)
    retried = unit_update_capacity(
        unit_id=world.unit.pk, by=world.staff, change=change(available=1), expected_version=1, retry_confirms=True
    )
    assert not retried.updated and retried.unit.version == 2
    assert CapacityEvent.objects.order_by("-at", "-id").values_list("action", flat=True)[0] == "confirm"
    # Different figures on a stale version are a real conflict, retry or not.
    with pytest.raises(VersionConflict) as exc:
        unit_update_capacity(
            unit_id=world.unit.pk, by=world.staff, change=change(available=2), expected_version=1, retry_confirms=True
        )
    assert exc.value.current.available == 1


def test_a_location_write_names_unknown_unit_kinds_and_writes_nothing(world: World) -> None:
    with pytest.raises(UnknownUnitKinds) as exc:
        location_update_capacity(
            location_id=world.location.pk,
            by=world.staff,
            changes={"delivery_suite": (change(available=1), None), "medium_care": (change(available=1), None)},
        )
    assert exc.value.kinds == ["medium_care"]
    assert not CapacityEvent.objects.exists()


# --- units_confirm_unchanged: the staff page's "confirm all" --------------------------------------


def test_confirm_all_records_each_unit_and_pushes_each_location_once(
    world: World, published: list[dict[str, object]], django_capture_on_commit_callbacks
) -> None:
    Unit.objects.filter(pk__in=[world.unit.pk, world.nicu.pk]).update(
        confirmed_at=timezone.now() - timedelta(hours=5), stale_flagged_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        units = units_confirm_unchanged(by=world.staff, versions={world.nicu.pk: 1, world.unit.pk: 1})
    assert sorted(u.pk for u in units) == sorted([world.unit.pk, world.nicu.pk])
    for unit in Unit.objects.filter(pk__in=[world.unit.pk, world.nicu.pk]):
        assert not unit.is_stale() and unit.confirmed_by == world.staff and unit.stale_flagged_at is None
        assert unit.version == 1  # a confirmation, not a change
    events = list(CapacityEvent.objects.all())
    assert len(events) == 2 and {(e.action, e.source, e.by, e.version) for e in events} == {
        ("confirm", "web", world.staff, 1)
    }
    assert len(callbacks) == 1 and [e["location_id"] for e in published] == [world.location.pk]


def test_confirm_all_with_one_stale_version_confirms_nothing(world: World, published: list[dict[str, object]]) -> None:
    unit_update_capacity(
        unit_id=world.nicu.pk, by=world.staff, change=change(staffed_total=24, available=5), expected_version=1
    )
    published.clear()
    with pytest.raises(UnitsVersionConflict) as exc:
        units_confirm_unchanged(by=world.staff, versions={world.unit.pk: 1, world.nicu.pk: 1})
    assert [u.pk for u in exc.value.stale] == [world.nicu.pk]
    assert exc.value.stale[0].available == 5
    assert sorted(u.pk for u in exc.value.current) == sorted([world.unit.pk, world.nicu.pk])
    assert not CapacityEvent.objects.filter(action="confirm").exists()
    assert published == []


def test_confirm_all_only_for_units_the_user_may_change(world: World) -> None:
    with pytest.raises(PermissionDenied):
        units_confirm_unchanged(by=world.staff, versions={world.unit.pk: 1, world.other_unit.pk: 1})
    with pytest.raises(PermissionDenied):
        units_confirm_unchanged(by=world.midwife, versions={world.unit.pk: 1})
    with pytest.raises(Unit.DoesNotExist):
        units_confirm_unchanged(by=world.staff, versions={world.unit.pk: 1, 99999: 1})
    assert not CapacityEvent.objects.exists()
