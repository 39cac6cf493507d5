"""The planner's intake weeks on a phone (390 x 844, touch), in a real headless Chromium (issue 15):
the whole 12-week grid confirmed in one tap, one week changed in at most three, nothing wider than
the screen. Screenshots go to /tmp/e2e-kraamzorg-*.png for a human to look at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kraamzorg.models import IntakeEvent, IntakeWeek
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from tests.conftest import PASSWORD, World
from tests.live_server import LiveServer, browser_server, phone_browser
from tests.test_e2e_staff import PHONE, Thumb, toggle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOT = "/tmp/e2e-kraamzorg-{}.png"  # noqa: S108 - a screenshot for a human, not a secret


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    for week in weeks_ahead():  # a grid filled in last week, waiting for this week's confirmation
        intake_week_set(by=world.planner, organisation_id=world.kraamzorg.pk, week=week,
                        change=IntakeChange(families=3, hours="full", status="open"), expected_version=0)  # fmt: skip
    with browser_server(world.planner, password=PASSWORD) as live:
        yield live


def blocked_style(text: str) -> bool:
    """Chromium reports an empty style attribute that htmx's request leaves on this page's inputs as a
    blocked inline style (CSP style-src 'self'): blocked, so harmless; its cause is not traced yet
    (docs/kraamzorg.md). Every other console error fails the test."""
    return text.startswith("Applying inline style violates the following Content Security Policy")


@pytest.fixture
def phone(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with phone_browser(server, "planner", PASSWORD, ignore=blocked_style) as page:
        page.wait_for_url(f"{server.url}/kraamzorg/plan/")  # where a planner lands
        yield page


def test_the_grid_confirmed_in_one_tap_and_a_week_changed_in_three(world: World, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone
    assert page.locator(".week.card").count() == 12
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=SHOT.format("grid"), full_page=True)

    thumb = Thumb()
    thumb.tap(page.locator("#confirm-weeks button"))
    expect(page.locator("#intake-grid > p.saved")).to_be_visible()
    assert thumb.taps == 1
    assert set(IntakeWeek.objects.values_list("version", flat=True)) == {2}
    assert IntakeEvent.objects.filter(action="confirm", by=world.planner).count() == 12

    week = weeks_ahead()[2]
    card = page.locator(f"#week-{week:%Y-%m-%d}")
    thumb = Thumb()
    thumb.tap(card.locator("summary"))
    form = card.locator("form")
    expect(form.locator(".minimum-hours")).to_be_hidden()  # only with "only a stated minimum"
    expect(form.locator(".reason-toggles")).to_be_hidden()  # only with limited or stop
    box = toggle(form, f"w{week:%Y%m%d}-status", "limited").bounding_box()
    assert box is not None and box["height"] >= 44
    thumb.tap(form.locator('button.step[data-step="1"]'))
    thumb.tap(form.locator("button.primary"))
    expect(page.locator(f"#week-{week:%Y-%m-%d} .saved")).to_be_visible()
    assert thumb.taps <= 3
    page.screenshot(path=SHOT.format("week-saved"), full_page=True)
    row = IntakeWeek.objects.get(organisation=world.kraamzorg, week=week)
    assert (row.families, row.version) == (4, 3)
    # The week's confirm-all version moved with the save: a second "confirm all" confirms all twelve again.
    with page.expect_response(lambda r: r.url.endswith("/kraamzorg/plan/confirm-all/")) as confirmed:
        page.locator("#confirm-weeks button").tap()
    assert confirmed.value.status == 200
    expect(page.locator("#intake-grid > p.saved")).to_be_visible()
    assert IntakeWeek.objects.get(pk=row.pk).version == 4


def test_a_colleagues_change_arrives_live_and_an_open_week_keeps_what_is_typed(world: World, phone: Any) -> None:
    """docs/kraamzorg.md, "Live": a second planner of the organisation changes two weeks; the page shows
    the closed one at once and, for the week being edited, the new figures above the untouched form and
    a notice; "confirm all" then confirms at the current versions, without a reload."""
    from playwright.sync_api import expect

    from hospitals.models import User

    page = phone
    server_url = page.url.split("/kraamzorg/")[0]
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": server_url}])
    page.goto(f"{server_url}/kraamzorg/plan/")
    expect(page.locator("#plan-conn")).to_have_class("conn conn-live")
    page.evaluate("() => { window.notReloaded = true; }")
    weeks = weeks_ahead()
    closed, editing = (page.locator(f"#week-{weeks[i]:%Y-%m-%d}") for i in (2, 4))
    editing.locator("summary").tap()
    families = editing.locator(f"#id_w{weeks[4]:%Y%m%d}-families")
    families.fill("7")  # typed, not saved

    colleague = User.objects.create_user(
        username="colleague", role=User.Role.KRAAMZORG_PLANNER, organisation=world.kraamzorg
    )
    stop = IntakeChange(families=0, hours="full", status="stop", reason="staff")
    intake_week_set(by=colleague, organisation_id=world.kraamzorg.pk, week=weeks[2], change=stop, expected_version=1)
    limited = IntakeChange(families=1, hours="minimum", minimum_hours=24, status="limited", reason="area")
    intake_week_set(by=colleague, organisation_id=world.kraamzorg.pk, week=weeks[4], change=limited, expected_version=1)

    expect(closed.locator("summary")).to_contain_text("Intake stop: not enough staff", timeout=10_000)
    expect(closed).to_have_attribute("data-version", "2")
    notice = editing.locator("[data-week-changed]")
    expect(notice).to_be_visible(timeout=10_000)
    expect(notice).to_contain_text("Changed by someone else")
    expect(editing.locator("summary")).to_contain_text("1 family · at least 24 h")  # the figures as stored now
    expect(families).to_have_value("7")  # what the planner typed is still there
    expect(editing.locator('input[form="confirm-weeks"]')).to_have_value("2")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=SHOT.format("live-changed"), full_page=True)

    notice.locator("button").tap()  # "Reload this week": the stored figures in the form
    expect(editing.locator("[data-week-changed]")).to_have_count(0)
    expect(page.locator(f"#id_w{weeks[4]:%Y%m%d}-families")).to_have_value("1")

    with page.expect_response(lambda r: r.url.endswith("/kraamzorg/plan/confirm-all/")) as confirmed:
        page.locator("#confirm-weeks button").tap()
    assert confirmed.value.status == 200  # every version the page sends is current
    assert sorted(IntakeWeek.objects.values_list("version", flat=True)) == [2] * 10 + [3] * 2
    assert page.evaluate("() => window.notReloaded") is True
