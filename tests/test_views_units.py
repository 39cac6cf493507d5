from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity import forms as capacity_forms
from capacity.forms import quick_stop_end
from capacity.models import CapacityEvent, Unit
from tests.conftest import World


def post_data(unit: Unit, **kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": unit.version,
        "available": unit.available,
        "staffed_total": unit.staffed_total,
        "status": unit.status,
        "stop_reason": "",
        "stop_expected_end": "",
        "note": "",
    }
    data.update(kw)
    return data


def test_staff_sees_only_their_own_units(world: World, client_for) -> None:
    response = client_for(world.staff).get(reverse("capacity:my_units"))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="unit-{world.unit.pk}"' in body and f'id="unit-{world.nicu.pk}"' in body
    assert f'id="unit-{world.other_unit.pk}"' not in body
    assert 'lang="nl"' in body and "Opslaan" in body


@pytest.mark.parametrize("persona", ["midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_other_roles_cannot_open_the_staff_page(world: World, client_for, persona: str) -> None:
    assert client_for(world.personas()[persona]).get(reverse("capacity:my_units")).status_code == 403


def test_anonymous_is_sent_to_login(client, world: World) -> None:
    for url in [reverse("capacity:my_units"), reverse("capacity:unit_update", args=[world.unit.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit))
    assert response.status_code == 302
    assert Unit.objects.get(pk=world.unit.pk).version == 1


@pytest.mark.parametrize("persona", ["other_staff", "midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_nobody_else_can_change_a_unit(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert (
        c.post(reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit, available=0)).status_code
        == 403
    )
    assert c.post(reverse("capacity:unit_confirm", args=[world.unit.pk]), {"version": 1}).status_code == 403
    assert Unit.objects.get(pk=world.unit.pk).available == 4
    assert not CapacityEvent.objects.exists()


def test_htmx_update_returns_the_fresh_form(world: World, client_for) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]),
        post_data(world.unit, available=3),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<form id="unit-{world.unit.pk}"') and 'name="version" value="2"' in body
    unit = Unit.objects.get(pk=world.unit.pk)
    assert (unit.available, unit.version, unit.updated_by) == (3, 2, world.staff)


def test_without_javascript_update_redirects_back_with_a_message(world: World, client_for) -> None:
    c = client_for(world.staff)
    response = c.post(reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit, available=3))
    assert response.status_code == 302 and response["Location"].endswith(f"#unit-{world.unit.pk}")
    assert "Opgeslagen" in c.get(response["Location"]).content.decode()


def test_bad_input_is_a_400_with_the_error_tied_to_the_field(world: World, client_for) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]),
        post_data(world.unit, available=12),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    field_id = f"unit{world.unit.pk}-available"
    assert f'aria-describedby="{field_id}-error"' in body and f'id="{field_id}-error"' in body
    assert "kan niet meer zijn dan" in body
    assert Unit.objects.get(pk=world.unit.pk).version == 1


@pytest.mark.parametrize(
    "kw",
    [
        {"available": "veel"},
        {"version": ""},
        {"status": "stop", "available": 0},
        {"status": "stop", "stop_reason": "beds", "stop_expected_end": "gisteren"},
        {
            "status": "stop",
            "stop_reason": "beds",
            "stop_expected_end": (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    ],
)
def test_malformed_input_never_500s_and_saves_nothing(world: World, client_for, kw: dict[str, object]) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit, **kw)
    )
    assert response.status_code == 400
    assert Unit.objects.get(pk=world.unit.pk).version == 1 and not CapacityEvent.objects.exists()


def test_stale_edit_gets_409_with_the_current_state(world: World, client_for) -> None:
    c = client_for(world.staff)
    url = reverse("capacity:unit_update", args=[world.unit.pk])
    assert c.post(url, post_data(world.unit, available=1), HTTP_HX_REQUEST="true").status_code == 200
    response = c.post(url, post_data(world.unit, available=7), HTTP_HX_REQUEST="true")  # still version 1
    assert response.status_code == 409
    body = response.content.decode()
    assert "Iemand anders heeft deze afdeling gewijzigd" in body and 'name="version" value="2"' in body
    assert Unit.objects.get(pk=world.unit.pk).available == 1


def test_confirm_unchanged_in_one_tap(world: World, client_for) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=timezone.now() - timedelta(hours=5))
    response = client_for(world.staff).post(
        reverse("capacity:unit_confirm", args=[world.unit.pk]), {"version": 1}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert not Unit.objects.get(pk=world.unit.pk).is_stale()
    assert CapacityEvent.objects.get().action == "confirm"


def test_wrong_method_is_refused(world: World, client_for) -> None:
    c = client_for(world.staff)
    assert c.get(reverse("capacity:unit_update", args=[world.unit.pk])).status_code == 405
    assert c.post(reverse("capacity:my_units")).status_code == 405


def test_unknown_unit_is_404(world: World, client_for) -> None:
    assert client_for(world.staff).post(reverse("capacity:unit_update", args=[99999]), {}).status_code == 404


def test_english_interface(world: World, client_for) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    body = c.get(reverse("capacity:my_units")).content.decode()
    assert 'lang="en"' in body and "Confirm unchanged" in body


# --- the compact page: toggles, quick stop ends, confirm all (issue 10) ---------------------------

AMS = ZoneInfo("Europe/Amsterdam")


def at(text: str) -> datetime:
    """A Dutch wall-clock time, e.g. "2025-03-29 22:00"."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=AMS)


@pytest.mark.parametrize(
    ("choice", "now", "end"),
    [
        ("08", "2025-06-10 06:30", "2025-06-10 08:00"),  # before 08:00: today
        ("08", "2025-06-10 08:00", "2025-06-11 08:00"),  # at 08:00 or after: tomorrow
        ("08", "2025-06-10 23:15", "2025-06-11 08:00"),
        ("17", "2025-06-10 16:59", "2025-06-10 17:00"),
        ("17", "2025-06-10 17:30", "2025-06-11 17:00"),
        # The night summer time starts (02:00 -> 03:00) and ends (03:00 -> 02:00): still 08:00 local.
        ("08", "2025-03-29 22:00", "2025-03-30 08:00"),
        ("08", "2025-10-25 20:00", "2025-10-26 08:00"),
        ("17", "2025-12-31 18:00", "2026-01-01 17:00"),
    ],
)
def test_until_a_clock_time_is_the_next_one_in_dutch_local_time(choice: str, now: str, end: str) -> None:
    result = quick_stop_end(choice, at(now).astimezone(UTC))
    assert result == at(end)
    assert result is not None and result.astimezone(AMS).strftime("%H:%M") == at(end).strftime("%H:%M")


def test_until_eight_across_the_spring_change_is_nine_hours_not_ten() -> None:
    now = at("2025-03-29 22:00").astimezone(UTC)
    end = quick_stop_end("08", now)
    assert end is not None and end - now == timedelta(hours=9)
    autumn = at("2025-10-25 20:00").astimezone(UTC)
    end = quick_stop_end("08", autumn)
    assert end is not None and end - autumn == timedelta(hours=13)


@pytest.mark.parametrize(("choice", "hours"), [("2h", 2), ("4h", 4)])
def test_hours_ahead_are_elapsed_time_cut_to_the_minute(choice: str, hours: int) -> None:
    # 01:30 on the night summer time starts: two hours later the clock reads 04:30. Given in local
    # time on purpose: Python would add to a local time by the wall clock (03:30).
    now = at("2025-03-30 01:30").replace(second=41, microsecond=5)
    end = quick_stop_end(choice, now)
    assert end is not None and end == (now.astimezone(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)
    assert end.second == 0 and end.microsecond == 0
    if hours == 2:
        assert end.astimezone(AMS).strftime("%H:%M") == "04:30"


@pytest.mark.parametrize("choice", ["unknown", "other", ""])
def test_unknown_and_other_have_no_computed_end(choice: str) -> None:
    assert quick_stop_end(choice, timezone.now()) is None


def stop_data(unit: Unit, **kw: object) -> dict[str, object]:
    data = post_data(unit, status="stop", stop_reason="staff", available=0)
    data.update(kw)
    return data


def test_the_page_offers_toggles_and_quick_ends_not_selects(world: World, client_for) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    body = c.get(reverse("capacity:my_units")).content.decode()
    assert "<select" not in body
    pk = world.unit.pk
    for name, value in [("status", "stop"), ("stop_reason", "staff"), ("stop_end_choice", "2h")]:
        assert f'type="radio" name="{name}" value="{value}"' in body
    for label in ["+2 h", "+4 h", "Until 08:00", "Until 17:00", "Unknown", "Other time"]:
        assert label in body
    # "Limited" is explained where it is chosen, and the explanation is tied to the choice.
    assert f'aria-describedby="unit{pk}-limited-help"' in body and f'id="unit{pk}-limited-help"' in body
    assert "still admitting, but not everyone" in body
    # Units without a stop end start at "unknown"; confirm all carries each unit's version.
    assert f'id="unit{pk}-stop_end_choice_4" checked' in body
    assert f'form="confirm-all" name="version-{pk}" value="1"' in body
    assert f'name="version-{world.other_unit.pk}"' not in body
    assert body.count('class="toggle') >= 2 * 12


def test_a_stop_with_a_quick_end_gets_its_end_when_saved(world: World, client_for) -> None:
    before = timezone.now()
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]),
        stop_data(world.unit, stop_end_choice="2h", stop_expected_end="2000-01-01T00:00"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    unit = Unit.objects.get(pk=world.unit.pk)
    assert (unit.status, unit.stop_reason) == ("stop", "staff")
    assert unit.stop_expected_end is not None
    assert (
        before + timedelta(hours=2) - timedelta(minutes=1)
        <= unit.stop_expected_end
        <= timezone.now() + timedelta(hours=2)
    )
    # The fresh form shows the stored end as "other time", so saving again changes nothing.
    body = response.content.decode()
    assert f'id="unit{world.unit.pk}-stop_end_choice_5" checked' in body


@pytest.mark.parametrize(("clock", "expected_day"), [("07:30", 0), ("09:00", 1)])
def test_until_eight_is_computed_at_the_moment_of_saving(
    world: World, client_for, monkeypatch: pytest.MonkeyPatch, clock: str, expected_day: int
) -> None:
    """The form's clock is set to tomorrow morning: before 08:00 it means that day, after it the next."""
    day = timezone.localdate() + timedelta(days=1)
    saving = datetime.combine(day, datetime.strptime(clock, "%H:%M").time(), tzinfo=AMS)
    monkeypatch.setattr(capacity_forms, "timezone", SimpleNamespace(now=lambda: saving))
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]), stop_data(world.unit, stop_end_choice="08")
    )
    assert response.status_code == 302
    end = Unit.objects.get(pk=world.unit.pk).stop_expected_end
    assert end == datetime.combine(day + timedelta(days=expected_day), datetime.min.time(), tzinfo=AMS).replace(hour=8)


def test_other_time_takes_the_date_field_and_needs_it(world: World, client_for) -> None:
    c = client_for(world.staff)
    url = reverse("capacity:unit_update", args=[world.unit.pk])
    response = c.post(url, stop_data(world.unit, stop_end_choice="other"), HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    field_id = f"unit{world.unit.pk}-stop_expected_end"
    assert f'id="{field_id}-error"' in response.content.decode()
    assert Unit.objects.get(pk=world.unit.pk).version == 1
    end = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = c.post(
        url, stop_data(world.unit, stop_end_choice="other", stop_expected_end=end.strftime("%Y-%m-%dT%H:%M"))
    )
    assert response.status_code == 302
    assert Unit.objects.get(pk=world.unit.pk).stop_expected_end == end


def test_unknown_end_and_a_quick_end_outside_a_stop_are_not_kept(world: World, client_for) -> None:
    c = client_for(world.staff)
    url = reverse("capacity:unit_update", args=[world.unit.pk])
    assert c.post(url, stop_data(world.unit, stop_end_choice="unknown")).status_code == 302
    unit = Unit.objects.get(pk=world.unit.pk)
    assert unit.status == "stop" and unit.stop_expected_end is None
    assert c.post(url, post_data(unit, status="limited", stop_end_choice="4h")).status_code == 302
    unit = Unit.objects.get(pk=world.unit.pk)
    assert (unit.status, unit.stop_reason, unit.stop_expected_end) == ("limited", "", None)


def test_a_stop_without_a_reason_is_refused_with_the_error_on_the_reasons(world: World, client_for) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]),
        stop_data(world.unit, stop_reason="", stop_end_choice="2h"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    error_id = f"unit{world.unit.pk}-stop_reason-error"
    assert f'id="{error_id}"' in body and f'aria-describedby="{error_id}"' in body
    assert Unit.objects.get(pk=world.unit.pk).version == 1


def test_without_javascript_a_conflict_shows_the_whole_page_with_the_current_figures(world: World, client_for) -> None:
    c = client_for(world.staff)
    url = reverse("capacity:unit_update", args=[world.unit.pk])
    assert c.post(url, post_data(world.unit, available=1)).status_code == 302
    response = c.post(url, stop_data(world.unit, stop_end_choice="2h"))  # still version 1
    assert response.status_code == 409
    body = response.content.decode()
    assert "<h1>" in body and "Iemand anders heeft deze afdeling gewijzigd" in body
    assert f'id="unit-{world.nicu.pk}"' in body
    assert Unit.objects.get(pk=world.unit.pk).status == "open"


def confirm_all_data(*units: Unit) -> dict[str, object]:
    return {f"version-{unit.pk}": unit.version for unit in units}


def test_confirm_all_confirms_every_unit_in_one_tap(world: World, client_for) -> None:
    long_ago = timezone.now() - timedelta(hours=5)
    Unit.objects.filter(pk__in=[world.unit.pk, world.nicu.pk]).update(confirmed_at=long_ago)
    c = client_for(world.staff)
    response = c.post(
        reverse("capacity:units_confirm_all"), confirm_all_data(world.unit, world.nicu), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="my-units"') and 'class="saved"' in body
    assert "flag-stale" not in body
    for pk in (world.unit.pk, world.nicu.pk):
        unit = Unit.objects.get(pk=pk)
        assert unit.confirmed_at > long_ago and unit.confirmed_by == world.staff and unit.version == 1
    events = CapacityEvent.objects.all()
    assert sorted(e.unit_id for e in events) == sorted([world.unit.pk, world.nicu.pk])
    assert {(e.action, e.source, e.by) for e in events} == {("confirm", "web", world.staff)}


def test_confirm_all_without_javascript_redirects_back_with_a_message(world: World, client_for) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    response = c.post(reverse("capacity:units_confirm_all"), confirm_all_data(world.unit, world.nicu))
    assert response.status_code == 302 and response["Location"] == reverse("capacity:my_units")
    assert "Confirmed unchanged: 2 units." in c.get(response["Location"]).content.decode()
    assert CapacityEvent.objects.filter(action="confirm").count() == 2


@pytest.mark.parametrize("htmx", [True, False])
def test_confirm_all_with_a_stale_version_confirms_nothing_and_shows_the_change(
    world: World, client_for, htmx: bool
) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    page_versions = confirm_all_data(world.unit, world.nicu)
    assert (
        c.post(reverse("capacity:unit_update", args=[world.nicu.pk]), post_data(world.nicu, available=7)).status_code
        == 302
    )
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = c.post(reverse("capacity:units_confirm_all"), page_versions, **headers)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Nothing was confirmed" in body and str(Unit.objects.get(pk=world.nicu.pk)) in body
    assert "It now shows 7 of 24 beds free" in body
    assert f'form="confirm-all" name="version-{world.nicu.pk}" value="2"' in body  # ready for a second try
    assert ("<h1>" in body) is not htmx
    assert not CapacityEvent.objects.filter(action="confirm").exists()
    assert Unit.objects.get(pk=world.unit.pk).confirmed_by is None


def test_confirm_all_refuses_a_unit_of_another_location_and_confirms_nothing(world: World, client_for) -> None:
    c = client_for(world.staff)
    response = c.post(reverse("capacity:units_confirm_all"), confirm_all_data(world.unit, world.other_unit))
    assert response.status_code == 403
    response = c.post(reverse("capacity:units_confirm_all"), {**confirm_all_data(world.unit), "version-99999": 1})
    assert response.status_code == 404
    assert not CapacityEvent.objects.exists()


@pytest.mark.parametrize("persona", ["other_staff", "midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_nobody_else_can_confirm_all(world: World, client_for, persona: str) -> None:
    response = client_for(world.personas()[persona]).post(
        reverse("capacity:units_confirm_all"), confirm_all_data(world.unit)
    )
    assert response.status_code == 403
    assert not CapacityEvent.objects.exists()


def test_confirm_all_checks_method_login_and_input(world: World, client, client_for) -> None:
    url = reverse("capacity:units_confirm_all")
    response = client.post(url, confirm_all_data(world.unit))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    c = client_for(world.staff)
    assert c.get(url).status_code == 405
    assert c.post(url, {}).status_code == 400
    assert c.post(url, {f"version-{world.unit.pk}": "twee"}, HTTP_HX_REQUEST="true").status_code == 400
    assert c.post(url, {f"version-{world.unit.pk}": "0"}).status_code == 400
    assert not CapacityEvent.objects.exists()
