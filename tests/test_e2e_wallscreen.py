"""The wall screen in a real headless Chromium at 1920x1080: a kiosk grid readable from 3 m that
shows a stop starting and ending, in words, without anyone touching it.

The screenshot goes to /tmp/e2e-wallscreen.png for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from capacity.models import BoardToken, Unit
from capacity.services import CapacityChange, board_token_issue, board_token_revoke, unit_update_capacity
from tests.conftest import World
from tests.live_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    browser_server,
    in_another_thread,
    subscriber_count,
    wait_for_subscribers,
)

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT = 10_000  # ms
SCREEN: ViewportSize = {"width": 1920, "height": 1080}
SHOT = "/tmp/e2e-wallscreen.png"  # noqa: S108 - a screenshot for a human, not a secret


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server() as live:
        yield live


def set_state(unit: Unit, **fields: Any) -> None:
    def work() -> None:
        current = Unit.objects.get(pk=unit.pk)
        change = CapacityChange(
            staffed_total=fields.get("staffed_total", current.staffed_total),
            available=fields.get("available", current.available),
            status=fields.get("status", current.status),
            stop_reason=fields.get("stop_reason", ""),
        )
        unit_update_capacity(unit_id=unit.pk, by=None, change=change, expected_version=None, source="system")

    in_another_thread(work)


def test_wall_screen_fills_the_wall_and_calls_out_a_stop(world: World, server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    _token, raw = board_token_issue(label="Balie verloskamers", region_id=world.region.pk, by=world.coordinator)
    Unit.objects.filter(pk=world.nicu.pk).update(confirmed_at=timezone.now() - timedelta(hours=9))  # out of date
    subscribers_before = subscriber_count()
    errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=SCREEN)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            try:
                page.goto(f"{server.url}/board/screen/{raw}/")
                expect(page.locator("#conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)
                wait_for_subscribers(more_than=subscribers_before)

                # No chrome: no menu, no language button, no log-in.
                assert page.locator("nav").count() == 0
                assert page.locator("form.lang, button[name=language]").count() == 0
                assert page.locator(".fav-form").count() == 0

                # The grid fills the screen, without scrolling.
                box = page.locator("#board-list").bounding_box()
                assert box is not None
                assert box["width"] >= 1850 and box["y"] + box["height"] >= 1000, box
                assert page.evaluate("() => document.documentElement.scrollHeight") <= SCREEN["height"]
                assert page.evaluate("() => document.getElementById('board-list').dataset.layout") == "grid"

                # Figures readable from 3 m: at least 48 px.
                figures = page.locator("#board-list .unit .count strong")
                assert figures.count() == 3  # two delivery suites and a NICU in this region
                sizes = figures.evaluate_all("(els) => els.map((el) => parseFloat(getComputedStyle(el).fontSize))")
                assert min(sizes) >= 48, sizes

                # Clock, last change and connection, always in view.
                for selector in ["#clock", "#last-change", "#conn"]:
                    expect(page.locator(selector)).to_be_in_viewport()
                expect(page.locator("#clock")).to_have_text(re.compile(r"^\d\d:\d\d$"))
                expect(page.locator("#last-change")).to_have_text(re.compile(r"^\d\d:\d\d$"))
                # The screen says why sound needs one tap (unless the kiosk browser allows it).
                sound = page.locator("#screen-sound")
                expect(sound).to_be_visible()
                if sound.locator("#sound-enable").count():
                    sound.locator("#sound-enable").click()  # the one tap
                expect(sound).to_have_class(re.compile(r"\bsound-on\b"))

                # A stop starts at WKZ Utrecht's delivery suite, set by someone else: the screen says so.
                cue = page.locator("#stop-cue")
                expect(cue).to_be_hidden()
                set_state(world.unit, status="stop", stop_reason="staff", available=0)
                row = page.locator(f"#location-{world.location.pk}")
                expect(row.locator('li[data-kind="delivery_suite"]')).to_have_attribute(
                    "data-state", "stop", timeout=LIVE_TIMEOUT
                )
                expect(cue).to_be_visible()
                expect(cue.locator(".cue-start")).to_contain_text("WKZ Utrecht")
                expect(cue.locator(".cue-start")).to_contain_text("verloskamers")
                expect(row).to_have_class(re.compile(r"\bloc-cue\b"))
                expect(row.locator('li[data-kind="delivery_suite"]')).to_contain_text("Opnamestop")
                # Out of date is not a stop: another mark (violet stripes, a clock face) besides the word.
                stale = row.locator('li[data-kind="nicu"][data-stale] .flag-stale')
                expect(stale).to_be_visible()
                expect(stale).to_contain_text("◷")
                stale_look = stale.evaluate("(el) => getComputedStyle(el).backgroundImage")
                stop_look = row.locator('li[data-kind="delivery_suite"] .badge').evaluate(
                    "(el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).backgroundImage]"
                )
                assert "repeating-linear-gradient" in stale_look and stop_look == ["rgb(142, 22, 22)", "none"]
                page.screenshot(path=SHOT)

                # ... and when it ends.
                set_state(world.unit, status="open", available=2)
                expect(cue.locator(".cue-end")).to_contain_text("WKZ Utrecht", timeout=LIVE_TIMEOUT)
                expect(cue.locator(".cue-start")).to_have_count(0)  # the ended stop's banner gave way
                # A change elsewhere is no stop: no further cue.
                set_state(world.other_unit, available=0)
                expect(
                    page.locator(f"#location-{world.other_location.pk} li[data-kind=delivery_suite]")
                ).to_have_attribute("data-state", "full", timeout=LIVE_TIMEOUT)
                assert cue.locator(".cue").count() == 1
            finally:
                page.screenshot(path=SHOT)
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"


def test_withdrawn_and_unknown_links_say_so_in_dutch(world: World, server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    token, raw = board_token_issue(label="Balie", region_id=world.region.pk, by=world.coordinator)
    in_another_thread(lambda: board_token_revoke(token_id=token.pk, by=world.coordinator))
    assert BoardToken.objects.get(pk=token.pk).revoked_at is not None

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-GB", viewport=SCREEN).new_page()
            withdrawn = page.goto(f"{server.url}/board/screen/{raw}/")
            assert withdrawn is not None and withdrawn.status == 410
            assert page.locator("html").get_attribute("lang") == "nl"  # Dutch, whatever the browser says
            expect(page.locator("[data-screen-gone=revoked] h1")).to_be_visible()
            expect(page).to_have_title(re.compile("Capaciteit geboortezorg"))
            assert "Not Found" not in page.content()
            assert page.locator("nav, form.lang").count() == 0

            unknown = page.goto(f"{server.url}/board/screen/not-a-link/")
            assert unknown is not None and unknown.status == 404
            expect(page.locator("[data-screen-gone=unknown] h1")).to_be_visible()
            assert "Not Found" not in page.content()
        finally:
            browser.close()
