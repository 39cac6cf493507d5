"""The staff page on a phone (390 x 844, touch), in a real headless Chromium: the targets of issue 10.

Counted taps, from the page as loaded: an admission stop with a reason and an expected end in at most
four, a figure change in at most three, confirming every unit in one; and all units of one location
within two screen heights. Elements are found by names and values, not by wording, so the tests hold
in either language. Screenshots go to /tmp/e2e-staff-*.png for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from capacity.models import CapacityEvent, Unit
from capacity.services import CapacityChange, unit_update_capacity
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE: Any = {"width": 390, "height": 844}  # a ViewportSize
SHOT = "/tmp/e2e-staff-{}.png"  # noqa: S108 - a screenshot for a human, not a secret


@pytest.fixture
def staff_world(world: World) -> World:
    """The staff member's location gets four units, as a perinatal centre has; one is out of date."""
    Unit.objects.create(location=world.location, kind=Unit.Kind.BIRTH_CENTRE, staffed_total=4, available=2)
    Unit.objects.create(
        location=world.location, kind=Unit.Kind.HIGH_CARE, staffed_total=12, available=3, note="Alleen eigen patiënten"
    )
    Unit.objects.filter(pk=world.nicu.pk).update(confirmed_at=timezone.now() - timedelta(hours=5))
    return world


@pytest.fixture
def server(staff_world: World) -> Iterator[LiveServer]:
    """One uvicorn process. Depends on the world so it stops before the database is flushed."""
    with browser_server(staff_world.staff, password=PASSWORD) as live:
        yield live


class Thumb:
    """Taps on a touch screen, counted."""

    def __init__(self) -> None:
        self.taps = 0

    def tap(self, locator: Any) -> None:
        locator.tap()
        self.taps += 1


def toggle(form: Any, name: str, value: str) -> Any:
    """The big button of one radio choice (the label that wraps it)."""
    return form.locator(f'label.toggle:has(input[name="{name}"][value="{value}"])')


@pytest.fixture
def phone(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A phone-sized touch page, logged in as hospital staff, with JavaScript; fails on page errors."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM calls below are plain sync
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=PHONE, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
            browser_log_in(page, server, "staff", PASSWORD, next_url="/units/")
            page.wait_for_url(f"{server.url}/units/")
            yield page
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"


LAST_UNIT_BOTTOM = """() => {
  const last = [...document.querySelectorAll('form.unit-form')].pop();
  return last.getBoundingClientRect().bottom + window.scrollY;
}"""


def test_all_units_of_a_location_fit_in_two_screen_heights(staff_world: World, phone: Any, server: LiveServer) -> None:
    page = phone
    assert page.locator("form.unit-form").count() == 4
    for language in ("nl", "en"):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": server.url}])
        page.reload()
        assert page.locator("html").get_attribute("lang") == language
        page.screenshot(path=SHOT.format(f"page-{language}"), full_page=True)
        bottom = page.evaluate(LAST_UNIT_BOTTOM)
        assert bottom <= 2 * PHONE["height"], f"{language}: the last unit ends at {bottom}px"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size({"width": 1280, "height": 900})  # and on a desk: units side by side
    page.screenshot(path=SHOT.format("desk"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
    page.set_viewport_size(PHONE)
    # Big toggles, none hidden stop fields in the way, and the limited hint where limited is chosen.
    form = page.locator(f"#unit-{staff_world.unit.pk}")
    for value in ("open", "limited", "stop"):
        box = toggle(form, "status", value).bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44
    assert form.locator(".stop-fields").is_hidden()
    expect_visible(form.locator(f"#unit{staff_world.unit.pk}-limited-help"))
    assert form.locator("fieldset.status-toggles").get_attribute("aria-describedby") == (
        f"unit{staff_world.unit.pk}-limited-help"
    )


def test_a_stop_with_reason_and_end_in_four_taps(staff_world: World, phone: Any) -> None:
    page, thumb, unit = phone, Thumb(), staff_world.unit
    form = page.locator(f"#unit-{unit.pk}")
    thumb.tap(toggle(form, "status", "stop"))
    expect_visible(form.locator(".stop-fields"))
    assert form.locator('input[name="stop_expected_end"]').is_hidden()  # only for "other time"
    thumb.tap(toggle(form, "stop_reason", "staff"))
    thumb.tap(toggle(form, "stop_end_choice", "2h"))
    before = timezone.now()
    thumb.tap(form.locator("button.primary"))
    expect_visible(page.locator(f"#unit-{unit.pk} .saved"))
    after = timezone.now()
    page.screenshot(path=SHOT.format("stop"), full_page=True)

    assert thumb.taps <= 4
    fresh = Unit.objects.get(pk=unit.pk)
    assert (fresh.status, fresh.stop_reason) == (Unit.Status.STOP, Unit.StopReason.STAFF)
    assert fresh.stop_expected_end is not None
    # Two hours from the moment of saving, cut to the minute.
    assert before + timedelta(hours=2) - timedelta(minutes=1) <= fresh.stop_expected_end <= after + timedelta(hours=2)
    # The swapped-in form shows the stop as chosen, with its end as "other time" (the stored time).
    form = page.locator(f"#unit-{unit.pk}")
    assert form.locator('input[name="status"][value="stop"]').is_checked()
    assert form.locator('input[name="stop_end_choice"][value="other"]').is_checked()
    expect_visible(form.locator('input[name="stop_expected_end"]'))


def test_a_figure_change_in_two_taps_and_confirm_all_in_one(staff_world: World, phone: Any) -> None:
    page, nicu = phone, staff_world.nicu
    thumb = Thumb()
    form = page.locator(f"#unit-{nicu.pk}")
    thumb.tap(form.locator(f'button.step[data-for="unit{nicu.pk}-available"][data-step="1"]'))
    thumb.tap(form.locator("button.primary"))
    expect_visible(page.locator(f"#unit-{nicu.pk} .saved"))
    assert thumb.taps <= 3
    assert Unit.objects.get(pk=nicu.pk).available == nicu.available + 1

    # The NICU's version moved with that save; its confirm-all field was swapped in with it.
    units = list(Unit.objects.filter(location=staff_world.location))
    Unit.objects.filter(location=staff_world.location).update(confirmed_at=timezone.now() - timedelta(hours=3))
    events_before = CapacityEvent.objects.filter(action=CapacityEvent.Action.CONFIRM).count()
    thumb = Thumb()
    tapped_at = timezone.now()
    thumb.tap(page.locator("#confirm-all button"))
    expect_visible(page.locator("#my-units > .saved"))
    page.screenshot(path=SHOT.format("confirmed"), full_page=True)
    assert thumb.taps == 1
    for unit in units:
        assert Unit.objects.get(pk=unit.pk).confirmed_at >= tapped_at - timedelta(seconds=5)
    assert CapacityEvent.objects.filter(action=CapacityEvent.Action.CONFIRM).count() == events_before + len(units)
    assert page.locator(".flag-stale").count() == 0


def test_confirm_all_shows_a_unit_changed_meanwhile_and_confirms_nothing(staff_world: World, phone: Any) -> None:
    page, unit = phone, staff_world.unit
    unit_update_capacity(
        unit_id=unit.pk,
        by=staff_world.staff,
        change=CapacityChange(staffed_total=10, available=1, status=Unit.Status.LIMITED),
        expected_version=unit.version,
    )
    page.locator("#confirm-all button").tap()
    alert = page.locator("#my-units > .conflict")
    expect_visible(alert)
    assert str(staff_world.location.name) in alert.inner_text()
    assert page.locator(f"#unit-{unit.pk} .conflict").inner_text().count("1") >= 1
    assert page.locator(f"#unit{unit.pk}-available").input_value() == "1"
    assert not CapacityEvent.objects.filter(action=CapacityEvent.Action.CONFIRM).exists()
    # The list now carries the current versions: a second tap confirms them all.
    page.locator("#confirm-all button").tap()
    expect_visible(page.locator("#my-units > .saved"))
    assert CapacityEvent.objects.filter(action=CapacityEvent.Action.CONFIRM).count() == 4


def test_without_javascript_the_stop_fields_still_follow_the_choice(
    staff_world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    unit = staff_world.unit
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                locale="nl-NL", viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
            ).new_page()
            browser_log_in(page, server, "staff", PASSWORD, next_url="/units/")
            form = page.locator(f"#unit-{unit.pk}")
            assert form.locator(".stop-fields").is_hidden()
            toggle(form, "status", "stop").tap()
            expect_visible(form.locator(".stop-fields"))  # CSS alone (:has), no script
            toggle(form, "stop_reason", "beds").tap()
            toggle(form, "stop_end_choice", "other").tap()
            expect_visible(form.locator('input[name="stop_expected_end"]'))
            toggle(form, "stop_end_choice", "4h").tap()
            form.locator("button.primary").tap()  # a plain POST, then the redirect back
            page.wait_for_url(f"{server.url}/units/#unit-{unit.pk}")
            expect_visible(page.locator(".messages"))
        finally:
            browser.close()
    fresh = Unit.objects.get(pk=unit.pk)
    assert (fresh.status, fresh.stop_reason) == (Unit.Status.STOP, Unit.StopReason.BEDS)
    assert fresh.stop_expected_end is not None
    assert abs(fresh.stop_expected_end - (timezone.now() + timedelta(hours=4))) < timedelta(minutes=2)


def expect_visible(locator: Any) -> None:
    from playwright.sync_api import expect

    expect(locator).to_be_visible()
