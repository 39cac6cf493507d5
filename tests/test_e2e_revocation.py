"""A revoked wall-screen link in a real headless Chromium: the open screen says so at once.

Before, the screen kept showing rows (its socket stayed open) until it polled; now the socket is
closed with 4403 and the page reloads into the withdrawn-link page (static/js/app.js).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from capacity.services import board_token_issue, board_token_revoke
from tests.conftest import World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_server, in_another_thread

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server() as live:
        yield live


def test_open_wall_screen_shows_withdrawn_page_when_its_link_is_revoked(world: World, server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    token, raw = board_token_issue(label="Balie", region_id=world.region.pk, by=world.coordinator)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            closes: list[str] = []
            page.on("websocket", lambda ws: ws.on("close", lambda _ws: closes.append("closed")))
            page.goto(f"{server.url}/board/screen/{raw}/")
            expect(page.locator("#conn.conn-live")).to_be_visible(timeout=10_000)
            expect(page.locator(f"#location-{world.location.pk}")).to_be_visible()

            in_another_thread(lambda: board_token_revoke(token_id=token.pk, by=world.coordinator))
            # Well inside the 30 s the page's polling fallback would take.
            expect(page.locator("[data-screen-gone=revoked] h1")).to_be_visible(timeout=5_000)
            expect(page.locator(f"#location-{world.location.pk}")).to_have_count(0)
            assert closes, "the socket was not closed"
        finally:
            browser.close()
