"""End to end: a national administrator signs in on a phone (390x844) and finds that sign-in in
the access log, filters the log and sees it fit the screen with tap-sized controls.

Headless Chromium (Debian's /usr/bin/chromium), one uvicorn process. English through the language
cookie, so the test does not depend on Dutch wording of new strings. Screenshot: /tmp/e2e-access-log.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hospitals.models import AccessLog
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOT = "/tmp/e2e-access-log.png"  # noqa: S108 - a screenshot for a human


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server(world.national_admin, password=PASSWORD) as live:
        yield live


def test_national_admin_finds_own_login_on_a_phone(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="en-GB", timezone_id="Europe/Amsterdam", viewport={"width": 390, "height": 844}
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            try:
                browser_log_in(page, server, "national_admin", PASSWORD)
                context.add_cookies([{"name": "django_language", "value": "en", "url": server.url}])
                page.goto(f"{server.url}/")
                page.locator('nav a[href="/accounts/access-log/"]').click()
                page.wait_for_url("**/accounts/access-log/")

                # The sign-in just made is the newest entry, with from where.
                first = page.locator("#access-log-table tbody tr").first
                expect(first.locator("td[data-action]")).to_have_attribute("data-action", "login")
                expect(first).to_contain_text("national_admin")
                expect(first).to_contain_text("127.0.0.1")

                # Filters are labelled fields; filtering by action keeps only matching rows.
                page.get_by_label("Action").select_option("export")
                page.get_by_label("User").fill("national")
                page.get_by_role("button", name="Show").click()
                page.wait_for_url("**action=export**")
                expect(page.locator("#access-log-table tbody")).to_contain_text("No entries match these filters.")

                # Fits the phone: no sideways scrolling; the export link and the button are tap-sized.
                assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
                for selector in ("#access-log-csv", "form.stats-filters button[type=submit]"):
                    box = page.locator(selector).bounding_box()
                    assert box is not None and box["height"] >= 44, selector
            finally:
                page.screenshot(path=SHOT, full_page=True)
        finally:
            browser.close()

    assert AccessLog.objects.filter(action="login", username="national_admin").count() == 1
    assert not errors, f"{errors}\n{server.log_tail()}"
