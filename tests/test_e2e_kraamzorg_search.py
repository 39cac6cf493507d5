"""The midwife's kraamzorg tab on a phone (390 x 844, touch), in a real headless Chromium (issue 15):
she enters the client's postcode and due date, sees who can take her in ranked and said in words, and a
planner's change arrives without a reload. Screenshots go to /tmp/e2e-kraamzorg-search-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from hospitals.models import Organisation, User
from kraamzorg.models import IntakeWeek, WorkArea
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from tests.conftest import PASSWORD, World
from tests.live_server import LiveServer, browser_server, phone_browser
from tests.search_world import make_postcodes
from tests.test_e2e_staff import PHONE, Thumb

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOT = "/tmp/e2e-kraamzorg-search-{}.png"  # noqa: S108 - a screenshot for a human, not a secret


def set_week(organisation: Organisation, planner: User, week: date, change: IntakeChange) -> IntakeWeek:
    row = IntakeWeek.objects.filter(organisation=organisation, week=week).first()
    return intake_week_set(by=planner, organisation_id=organisation.pk, week=week, change=change,
                           expected_version=row.version if row else 0)  # fmt: skip


@pytest.fixture
def area(world: World) -> dict[str, Any]:
    """Three organisations serve 3584: the full hours, a minimum (the synthetic one), not filled in."""
    make_postcodes()
    week = weeks_ahead()[3]
    full = Organisation.objects.create(name="Kraamzorg Domstad", kind=Organisation.Kind.KRAAMZORG, region=world.region,
                                       phone="030 250 9111", phone_e164="+31302509111")  # fmt: skip
    empty = Organisation.objects.create(name="Kraamzorg Leeg", kind=Organisation.Kind.KRAAMZORG, region=world.region)
    for org in (full, empty, world.kraamzorg):
        WorkArea.objects.create(organisation=org, pc4="3584")
    full_planner = User.objects.create_user(username="domstad", role=User.Role.KRAAMZORG_PLANNER, organisation=full)
    set_week(full, full_planner, week, IntakeChange(families=2, hours="full", status="open"))
    set_week(world.kraamzorg, world.planner, week, IntakeChange(families=5, hours="minimum", status="limited",
                                                                minimum_hours=24, reason="staff"))  # fmt: skip
    return {"full": full, "empty": empty, "full_planner": full_planner}


@pytest.fixture
def server(world: World, area: dict[str, Any]) -> Iterator[LiveServer]:
    with browser_server(world.midwife, password=PASSWORD) as live:
        yield live


@pytest.fixture
def phone(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with phone_browser(server, "midwife", PASSWORD) as page:
        page.context.add_cookies([{"name": "django_language", "value": "en", "url": server.url}])
        yield page


def test_the_midwife_finds_kraamzorg_and_sees_a_change_arrive(
    world: World, area: dict[str, Any], server: LiveServer, phone: Any
) -> None:
    from playwright.sync_api import expect

    page = phone
    week = weeks_ahead()[3]
    full, empty = area["full"], area["empty"]
    page.goto(f"{server.url}/search/")
    thumb = Thumb()
    thumb.tap(page.locator(".search-tabs a", has_text="Kraamzorg"))
    page.wait_for_url(f"{server.url}/search/kraamzorg/")
    assert page.evaluate("() => document.activeElement.id") == "id_pc4"  # she types at once
    page.keyboard.type("3584")
    page.locator("#id_due").fill((week + timedelta(days=2)).isoformat())
    thumb.tap(page.locator("form.search-form button[type=submit]"))

    results = page.locator("#search-results .result")
    expect(results).to_have_count(3)
    ids = results.evaluate_all("(items) => items.map((li) => li.id)")
    assert ids == [f"kraamzorg-{full.pk}", f"kraamzorg-{world.kraamzorg.pk}", f"kraamzorg-{empty.pk}"]
    expect(results.nth(0).locator(".result-state")).to_contain_text("Takes in families · full hours (49 h)")
    expect(results.nth(0)).to_contain_text("Room for 2 families")
    expect(results.nth(1).locator(".result-state")).to_contain_text("Only 24 h of the 49")
    expect(results.nth(1)).to_contain_text("Limited intake: not enough staff")
    expect(results.nth(1).locator(".flag-synthetic")).to_be_visible()
    expect(results.nth(2).locator(".result-state")).to_contain_text("No figures for this week")
    expect(results.first.locator("h3")).to_be_focused()  # the answer, not the form
    # One tap calls the first: its intake number as a tel: link; the others say they have none.
    expect(results.nth(0).locator("a.button-call")).to_have_attribute("href", "tel:+31302509111")
    expect(results.nth(2)).to_contain_text("No phone number known")
    assert thumb.taps == 2
    # One hand: every card and its controls fit the screen's width, the state is never colour alone.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert results.nth(0).locator(".result-state [aria-hidden]").first.inner_text() == "●"
    page.screenshot(path=SHOT.format("ranked"), full_page=True)

    # A planner of the first organisation stops the intake: the list changes without a reload.
    expect(page.locator("#search-conn")).to_have_class("conn conn-live")
    page.evaluate("() => { window.notReloaded = true; }")
    set_week(full, area["full_planner"], week, IntakeChange(families=0, hours="full", status="stop", reason="full"))
    stopped = page.locator(f"#kraamzorg-{full.pk}")
    expect(stopped.locator(".result-state")).to_contain_text("Intake stop: fully booked", timeout=10_000)
    ids = results.evaluate_all("(items) => items.map((li) => li.id)")
    assert ids == [f"kraamzorg-{world.kraamzorg.pk}", f"kraamzorg-{empty.pk}", f"kraamzorg-{full.pk}"]
    assert page.evaluate("() => window.notReloaded") is True
    page.screenshot(path=SHOT.format("live"), full_page=True)
