"""End to end: a midwife registers a refusal from the board; it appears on the coordinator's open
statistics page without reload, counted by a real Celery worker and pushed after aggregation.

Headless Chromium (Debian's /usr/bin/chromium), one uvicorn process, Redis as broker and channel
layer, the worker in this test process. Screenshot: /tmp/e2e-statistics.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections

from config.celery import app
from refusals.models import Refusal, RefusalDaily
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT = 15_000  # ms
SHOT = "/tmp/e2e-statistics.png"  # noqa: S108 - a screenshot for a human


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server(world.midwife, world.coordinator, password=PASSWORD) as live:
        yield live


@pytest.fixture
def worker() -> Iterator[None]:
    """A worker on the default queue the server enqueues to (this test run's own Redis database)."""
    app.control.purge()
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", queues=["celery"], shutdown_timeout=15):
            yield
    finally:
        connections.close_all()


def watch(page: Any, name: str, errors: list[str]) -> None:
    """Collect script errors and failed requests of one page."""

    def failed(response: Any) -> None:
        if response.status >= 400:
            errors.append(f"{name}: {response.status} {response.url}")

    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    page.on("response", failed)


def test_refusal_appears_on_open_statistics_page_without_reload(
    world: World, server: LiveServer, worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []

    def log_in(page: Page, username: str, next_url: str) -> None:
        browser_log_in(page, server, username, PASSWORD, next_url)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            coordinator = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
            midwife = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 412, "height": 915}
            )
            stats, phone = coordinator.new_page(), midwife.new_page()
            for name, page in (("statistics", stats), ("midwife", phone)):
                watch(page, name, errors)
            try:
                # The coordinator watches this week, where the refusal will fall.
                log_in(stats, "coordinator", f"/statistics/{world.region.code}/?period=week")
                expect(stats.locator("#stats-conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)
                expect(stats.locator(".stats-number")).to_have_text("0")
                stats.evaluate("() => { window.__marker = 1; }")

                # The midwife taps "refused here" on the board row and registers in a few taps.
                log_in(phone, "midwife", f"/board/region/{world.region.code}/")
                phone.locator(f"#location-{world.location.pk} a.refused-here").click()
                phone.wait_for_url(re.compile(r"/refusals/new/"))
                phone.locator('input[name="care_type"][value="overdracht"]').check()
                phone.locator('input[name="reason"][value="no_staff"]').check()
                phone.locator('input[name="outcome"][value="unknown"]').check()
                phone.locator('form button[type="submit"].primary').click()
                phone.wait_for_url(lambda url: "/refusals/new/" not in url)

                # Counted by the worker, pushed, re-fetched: the figure changes in place and is announced.
                expect(stats.locator(".stats-number")).to_have_text("1", timeout=LIVE_TIMEOUT)
                expect(stats.locator("#stats-body")).to_contain_text("WKZ Utrecht")
                expect(stats.locator("#stats-announce")).to_contain_text("1 weigering in deze weergave")
                assert stats.evaluate("() => window.__marker") == 1, "the statistics page was reloaded"
            finally:
                stats.screenshot(path=SHOT, full_page=True)
        finally:
            browser.close()

    refusal = Refusal.objects.get()
    assert (refusal.location, refusal.reason, refusal.registered_by) == (world.location, "no_staff", world.midwife)
    assert sum(RefusalDaily.objects.values_list("count", flat=True)) == 1
    assert not errors, f"{errors}\n{server.log_tail()}"
