"""End to end in a real headless Chromium: a midwife searches on a phone and her result list follows a change live.

Screenshot for a human: /tmp/e2e-search.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
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
from tests.search_world import make_postcodes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT = 10_000  # ms
SHOT = "/tmp/e2e-search.png"  # noqa: S108 - a screenshot for a human


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    make_postcodes()
    with browser_server(world.midwife, password=PASSWORD) as live:
        yield live


def test_midwife_searches_and_the_result_list_follows_a_stop_live(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    subscribers_before = subscriber_count()
    errors: list[str] = []
    wkz, diak = world.location, world.other_location

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 412, "height": 915}
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            try:
                browser_log_in(page, server, "midwife", PASSWORD, "/search/")
                page.wait_for_url(re.compile(r"/search/$"))

                # Place autocomplete, then the search itself (htmx, no page load).
                where = page.get_by_label("Postcode of plaats")
                where.press_sequentially("Utr", delay=50)
                expect(page.locator('#place-options option[value="Utrecht"]')).to_have_count(1, timeout=5000)
                where.fill("3584")
                page.get_by_label("overdracht (zorg overgedragen)").check()
                page.get_by_role("button", name="Zoeken").click()
                results = page.locator("#search-results")
                expect(results.locator(f"#result-{wkz.pk}")).to_contain_text("Ruimte gemeld")
                expect(page).to_have_url(re.compile(r"where=3584.*care=overdracht"))
                expect(page.locator("#search-conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)
                wait_for_subscribers(more_than=subscribers_before)
                page.evaluate("() => { window.__marker = 1; }")
                items = page.locator(".result")
                expect(items.first).to_have_id(f"result-{wkz.pk}")

                # Hospital staff declare a stop at WKZ: the nearest stays first, now marked as in stop,
                # without a reload.
                unit = Unit.objects.get(pk=world.unit.pk)
                unit_update_capacity(
                    unit_id=unit.pk,
                    by=world.staff,
                    expected_version=unit.version,
                    change=CapacityChange(staffed_total=10, available=0, status="stop", stop_reason="staff"),
                )
                expect(items.first).to_have_attribute("data-state", "stop", timeout=LIVE_TIMEOUT)
                expect(items.first).to_have_id(f"result-{wkz.pk}")
                expect(items.first).to_contain_text("Opnamestop")
                expect(items.last).to_have_id(f"result-{diak.pk}")
                assert page.evaluate("() => window.__marker") == 1, "the page was reloaded"
            finally:
                page.screenshot(path=SHOT, full_page=True)
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"
