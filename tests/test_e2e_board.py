"""End to end in a real headless Chromium: a change on the staff page appears on an open board, live.

Uses Debian's /usr/bin/chromium (playwright never downloads a browser here). Screenshots of both
pages go to /tmp/e2e-board.png and /tmp/e2e-units.png for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from capacity.models import Unit
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

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT = 10_000  # ms: a pushed row must show within this
BOARD_SHOT = "/tmp/e2e-board.png"  # noqa: S108 - a screenshot for a human, not a secret
UNITS_SHOT = "/tmp/e2e-units.png"  # noqa: S108


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    """One uvicorn process. Depends on ``world`` so it stops before the database is flushed."""
    with browser_server(world.staff, world.midwife, password=PASSWORD) as live:
        yield live


def test_staff_change_shows_on_an_open_board_without_reload(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls below are plain sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    unit, location = world.unit, world.location
    subscribers_before = subscriber_count()
    errors: list[str] = []

    def log_in(page: Page, username: str, next_url: str = "") -> None:
        browser_log_in(page, server, username, PASSWORD, next_url)

    def watch(page: Page, name: str) -> None:
        def console(msg: ConsoleMessage) -> None:
            url = msg.location.get("url", "")
            # There is no favicon (base.html links none): the browser's own request for one 404s.
            if msg.type == "error" and not url.endswith("/favicon.ico"):
                errors.append(f"{name} console: {msg.text} ({url})")

        page.on("console", console)
        page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
        page.on("response", lambda r: errors.append(f"{name}: {r.status} {r.url}") if r.status >= 400 else None)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            midwife = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 1280, "height": 900}
            )
            staff = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 412, "height": 915}
            )
            board, units = midwife.new_page(), staff.new_page()
            watch(board, "board")
            watch(units, "units")
            try:
                # Context 1: the midwife opens her region's board and waits for the socket.
                board_path = f"/board/region/{world.region.code}/"
                log_in(board, "midwife", next_url=board_path)
                expect(board).to_have_url(f"{server.url}{board_path}")
                expect(board.locator("#conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)
                wait_for_subscribers(more_than=subscribers_before)
                row = board.locator(f"#location-{location.pk}")
                expect(row).to_contain_text("4/10")
                board.evaluate("() => { window.__marker = 1; }")

                # Context 2: hospital staff raise the delivery suite's free beds from 4 to 7.
                log_in(units, "staff")
                expect(units).to_have_url(re.compile(r"/units/$"))
                form = units.locator(f"#unit-{unit.pk}")
                free = form.get_by_label("Vrije bedden", exact=True)
                expect(free).to_have_value("4")
                plus = form.get_by_role("button", name="Vrije bedden: één meer", exact=True)  # the + stepper
                for _ in range(3):
                    plus.click()
                expect(free).to_have_value("7")
                form.get_by_role("button", name="Opslaan").click()
                expect(units.locator(f"#unit-{unit.pk} .saved")).to_be_visible()

                expect(row).to_contain_text("7/10", timeout=LIVE_TIMEOUT)
                expect(row).not_to_contain_text("4/10")

                # An admission stop, with a reason and an expected end, in three hours.
                end = (datetime.now(ZoneInfo("Europe/Amsterdam")) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
                form = units.locator(f"#unit-{unit.pk}")  # the saved form was swapped in anew

                # By the radios' values (the staff page's own test, test_e2e_staff.py, covers its words).
                def choose(name: str, value: str) -> None:
                    form.locator("label", has=units.locator(f'input[name="{name}"][value="{value}"]')).click()

                choose("status", "stop")
                choose("stop_reason", "staff")
                choose("stop_end_choice", "other")
                form.get_by_label("Verwacht einde van de stop").fill(end)
                form.get_by_role("button", name="Opslaan").click()
                expect(units.locator(f"#unit-{unit.pk} .unit-state")).to_contain_text("Opnamestop")

                expect(row).to_contain_text("Opnamestop", timeout=LIVE_TIMEOUT)
                expect(row).to_contain_text("geen personeel")
                expect(row).to_have_attribute("data-stops", re.compile(r"\bdelivery_suite\b"))
                expect(board.locator("#conn")).to_have_class(re.compile(r"\bconn-live\b"))
                assert board.evaluate("() => window.__marker") == 1, "the board page was reloaded"
            finally:
                board.screenshot(path=BOARD_SHOT, full_page=True)
                units.screenshot(path=UNITS_SHOT, full_page=True)
        finally:
            browser.close()

    fresh = Unit.objects.get(pk=unit.pk)
    assert (fresh.available, fresh.status, fresh.stop_reason) == (7, Unit.Status.STOP, Unit.StopReason.STAFF)
    assert fresh.stop_expected_end is not None
    assert fresh.stop_expected_end.astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%dT%H:%M") == end
    assert not errors, f"{errors}\n{server.log_tail()}"
