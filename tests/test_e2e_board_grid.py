"""The board's grid view, navigation and call button in a real headless Chromium.

Screenshots: /tmp/e2e-board-grid.png (desk), /tmp/e2e-board-grid-phone.png and
/tmp/e2e-board-cards-phone.png (390x844) for a human to look at.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.db import connections

from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
from hospitals.models import Location, Region
from tests.conftest import PASSWORD, World
from tests.live_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    browser_log_in,
    browser_server,
    subscriber_count,
    wait_for_subscribers,
)

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT = 10_000  # ms
DESK: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server(world.midwife, world.coordinator, password=PASSWORD) as live:
        yield live


def set_free_beds(unit: Unit, available: int) -> None:
    """A change committed by someone else (another thread, its own connection), pushed to open boards."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            current = Unit.objects.get(pk=unit.pk)
            change = CapacityChange(staffed_total=current.staffed_total, available=available, status="open")
            unit_update_capacity(unit_id=unit.pk, by=None, change=change, expected_version=None, source="system")
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    if failure:
        raise failure[0]


def more_regions(world: World) -> Region:
    """Enough regions that the tabs overflow a phone; the last one (alphabetically) is returned."""
    last = None
    for code, name in [("noord", "Noord-Nederland"), ("oost", "Oost-Nederland"), ("twente", "Twente"),
                       ("zeeland", "Zeeland"), ("zuid", "Zuid-Limburg")]:  # fmt: skip
        last = Region.objects.create(code=code, name=name)
        location = Location.objects.create(
            slug=f"{code}-mc", name=f"MC {name}", organisation=world.hospital, region=last, city=name.split("-")[0],
            latitude=52.0, longitude=5.0, neonatal_level=1,
        )  # fmt: skip
        Unit.objects.create(location=location, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=5, available=2)
    assert last is not None
    return last


def test_grid_is_remembered_and_updated_live(world: World, server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    subscribers_before = subscriber_count()
    errors: list[str] = []
    board_path = f"/board/region/{world.region.code}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=DESK)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            try:
                browser_log_in(page, server, "midwife", PASSWORD, next_url=board_path)
                expect(page).to_have_url(f"{server.url}{board_path}")
                board_list = page.locator("#board-list")
                expect(board_list).to_have_attribute("data-layout", "cards")
                expect(page.locator(".grid-head")).to_be_hidden()

                grid_button = page.locator("[data-layout-toggle] button[value=grid]")
                cards_button = page.locator("[data-layout-toggle] button[value=cards]")
                expect(grid_button).to_have_attribute("aria-pressed", "false")
                grid_button.click()
                expect(grid_button).to_have_attribute("aria-pressed", "true")
                expect(cards_button).to_have_attribute("aria-pressed", "false")
                expect(board_list).to_have_attribute("data-layout", "grid")
                expect(page.locator(".grid-head")).to_be_visible()
                assert page.url == f"{server.url}{board_path}"  # switched in place, no reload

                # Reloaded: still a grid, and already in the HTML (no flash of cards before a script runs).
                response = page.reload()
                assert response is not None and 'data-layout="grid"' in response.text()
                expect(grid_button).to_have_attribute("aria-pressed", "true")

                # The columns line up: each unit sits under its unit type's column head.
                row = page.locator(f"#location-{world.location.pk}")
                for kind in (Unit.Kind.DELIVERY_SUITE, Unit.Kind.NICU):
                    head = page.locator(f'.grid-head [data-kind="{kind}"]').bounding_box()
                    box = row.locator(f'li[data-kind="{kind}"]').bounding_box()
                    assert head is not None and box is not None
                    assert abs(head["x"] - box["x"]) < 2 and abs(head["width"] - box["width"]) < 2, (kind, head, box)

                # A change pushed over the socket lands in the grid cell.
                expect(page.locator("#conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)
                wait_for_subscribers(more_than=subscribers_before)
                cell = row.locator('li[data-kind="delivery_suite"]')
                expect(cell.locator(".count strong")).to_have_text("4")
                page.evaluate("() => { window.__marker = 1; }")
                set_free_beds(world.unit, 0)
                expect(cell.locator(".count strong")).to_have_text("0", timeout=LIVE_TIMEOUT)
                expect(cell).to_have_attribute("data-state", "full")
                expect(cell.locator(".badge")).to_have_text(re.compile("Vol"))
                expect(board_list).to_have_attribute("data-layout", "grid")
                assert page.evaluate("() => window.__marker") == 1, "the board page was reloaded"
                page.screenshot(path="/tmp/e2e-board-grid.png", full_page=True)  # noqa: S108

                # Back to cards, remembered as well.
                cards_button.click()
                expect(board_list).to_have_attribute("data-layout", "cards")
                response = page.reload()
                assert response is not None and 'data-layout="cards"' in response.text()
            finally:
                page.close()
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"


def test_navigation_marks_where_you_are_on_a_phone(world: World, server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    last = more_regions(world)
    Location.objects.filter(pk=world.location.pk).update(phone="030 250 9111", phone_e164="+31302509111")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=PHONE)
            page = context.new_page()
            browser_log_in(page, server, "midwife", PASSWORD)
            # "Overview" opens her own region, and says it is the current page.
            expect(page).to_have_url(f"{server.url}/board/region/{world.region.code}/")
            overview = page.locator("header.top nav a[data-nav=board]")
            expect(overview).to_have_attribute("href", f"/board/region/{world.region.code}/")
            expect(overview).to_have_attribute("aria-current", "page")
            search = page.locator('header.top nav a[href="/search/"]')
            assert search.get_attribute("aria-current") is None
            # Visible too, not only to assistive technology: bolder and underlined in the focus colour.
            marked, plain = (
                link.evaluate("(el) => { const s = getComputedStyle(el); return [s.fontWeight, s.borderBottomColor]; }")
                for link in (overview, search)
            )
            assert marked != plain and int(marked[0]) >= 700, (marked, plain)

            # The call button: prominent, a thumb's size, its number on one line, inside the screen.
            call = page.locator(f"#location-{world.location.pk} a.call-suite")
            expect(call).to_be_visible()
            box = call.bounding_box()
            assert box is not None and 44 <= box["height"] < 60 and box["x"] + box["width"] <= PHONE["width"], box
            colours = call.evaluate("(el) => getComputedStyle(el).backgroundColor")
            assert colours == "rgb(11, 87, 208)"
            page.screenshot(path="/tmp/e2e-board-cards-phone.png", full_page=True)  # noqa: S108

            # The grid on a phone: no sideways scrolling of the page.
            page.locator("[data-layout-toggle] button[value=grid]").click()
            expect(page.locator("#board-list")).to_have_attribute("data-layout", "grid")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            page.screenshot(path="/tmp/e2e-board-grid-phone.png", full_page=True)  # noqa: S108

            # The last region's tab lies beyond the phone's width: opening it scrolls it into view.
            page.goto(f"{server.url}/board/region/{last.code}/")
            tab = page.locator(".regions a[aria-current=page]")
            expect(tab).to_have_text(last.name)
            tabs = page.locator(".regions")
            assert tabs.evaluate("(el) => el.scrollWidth > el.clientWidth"), "the tabs do not overflow: test is void"
            expect(tab).to_be_in_viewport(ratio=0.95)
            strip, active = tabs.bounding_box(), tab.bounding_box()
            assert strip is not None and active is not None
            assert strip["x"] - 1 <= active["x"] and active["x"] + active["width"] <= strip["x"] + strip["width"] + 1
            assert page.locator(".regions a[aria-current]").count() == 1
        finally:
            browser.close()


def test_coordinator_sees_locations_without_a_number(world: World, server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="nl-NL", viewport=PHONE).new_page()
            browser_log_in(page, server, "coordinator", PASSWORD)
            warning = page.locator("#phone-gaps")
            expect(warning).to_be_visible()
            expect(warning.locator("li")).to_have_text(
                [re.compile("Diakonessenhuis Utrecht"), re.compile("WKZ Utrecht")]
            )
            assert warning.locator("a").count() == 0  # a coordinator cannot change numbers: no dead link
        finally:
            browser.close()
