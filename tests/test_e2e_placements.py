"""End to end: a placement request from a midwife's phone to a delivery-suite desk and back, live,
across two ASGI processes (docs/requests.md).

Headless Chromium (Debian's /usr/bin/chromium), two uvicorn processes on one PostgreSQL and one Redis:
the midwife's browser context (a phone, touch) talks to server A only, the staff's (a desktop) to
server B only, so every change that shows without a reload crossed processes over the channel layer.

- Sending: from a search result in three taps (Ask for a place, the urgency, Send); the desk on B shows
  it with the urgency in words and the tel: link to call her; Accept on B; "Accepted" on her phone on A;
  the prompt to lower the free beds on the desk.
- A decline with a reason: "Declined" and "Ask <Diakonessenhuis>" on her phone; a refusal with source
  ``request``, counted on the coordinator's open statistics page by a **real Celery worker** in this
  test process (as tests/test_e2e_statistics.py does), pushed after aggregation.
- No answer: the deadline is moved into the past and ``placement_expire_due()`` runs in this test
  process (the beat's sweep does the same in production); her phone shows the expiry and the
  escalation button live, one tap sends the next request in the same ask, and a coordinator (a third
  context) sees the alert banner appear without reload.
- Fallback: with the request sockets refused (Playwright closes every /ws/requests/ socket), her page
  says the connection is lost and still gets the acceptance by polling (every 10 s).

English interface (language cookie). Screenshots for a human: /tmp/e2e-placement-*.png.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections
from django.utils import timezone

from config.celery import app
from placements.models import PlacementEvent, PlacementRequest
from placements.services import placement_expire_due
from refusals.models import Alert, Refusal, RefusalDaily
from tests.conftest import PASSWORD, World
from tests.live_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    browser_log_in,
    give_server_usable_password,
    running_servers,
    services_missing,
)
from tests.search_world import make_postcodes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEARCH = "/search/?where=3584&care=overdracht"  # WKZ first, then Diakonessenhuis
CALLBACK = "+31612345678"  # the midwife's call-back number, kept on her account
LIVE_TIMEOUT = 15_000  # ms: a push on a busy two-core machine
POLL_TIMEOUT = 15_000  # ms: one polling interval (10 s) and the fetch
PHONE: Any = {"width": 390, "height": 844}  # a ViewportSize
DESKTOP: Any = {"width": 1280, "height": 900}
SHOT = "/tmp/e2e-placement-{}.png"  # noqa: S108 - screenshots for a human

# Every htmx websocket that opened, by the id of its ws-connect element (the alert banners have no
# connection indicator of their own).
RECORD_WS_OPEN = """
document.addEventListener("htmx:wsOpen", function (event) {
  (window.__wsOpen = window.__wsOpen || []).push(event.target.id || "?");
});
"""


@dataclass
class Servers:
    a: LiveServer  # the midwife's
    b: LiveServer  # the staff's (and the coordinator's where a test says so)

    def log_tails(self) -> str:
        return f"--- server A ---\n{self.a.log_tail()}\n--- server B ---\n{self.b.log_tail()}"


@pytest.fixture
def servers(world: World) -> Iterator[Servers]:
    """Processes A and B. Depends on ``world`` so the servers stop before the database is flushed."""
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    make_postcodes()
    world.midwife.callback_phone = CALLBACK
    world.midwife.save(update_fields=["callback_phone"])
    for user in (world.midwife, world.staff, world.coordinator):
        give_server_usable_password(user, PASSWORD)
    with running_servers() as start:
        a, b = start(2)
        yield Servers(a, b)


@pytest.fixture
def worker() -> Iterator[None]:
    """A worker on the default queue the servers enqueue to (this test run's own Redis database)."""
    app.control.purge()
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", queues=["celery"], shutdown_timeout=15):
            yield
    finally:
        connections.close_all()


@dataclass
class Browser:
    browser: Any
    errors: list[str] = field(default_factory=list)

    def open(self, server: LiveServer, username: str, next_url: str, *, phone: bool = False) -> Any:
        """A new context logged in at ``server`` only, in English, on ``next_url``; its errors collected."""
        if phone:
            context = self.browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=PHONE, is_mobile=True, has_touch=True
            )
        else:
            context = self.browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=DESKTOP)
        context.add_init_script(RECORD_WS_OPEN)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{username}: {exc}"))
        page.on(
            "response",
            lambda r: self.errors.append(f"{username}: {r.status} {r.url}") if r.status >= 400 else None,
        )
        browser_log_in(page, server, username, PASSWORD)  # the login form is Dutch
        context.add_cookies([{"name": "django_language", "value": "en", "url": server.url}])
        page.goto(server.url + next_url)
        assert page.locator("html").get_attribute("lang") == "en"
        return page


@pytest.fixture
def chromium(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """One headless Chromium; the test fails on any script error or 4xx/5xx of its pages."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM calls in the tests are plain sync
    with sync_playwright() as playwright:
        browser = Browser(playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.browser.close()
    assert not browser.errors, f"{browser.errors}\n{servers.log_tails()}"


class Thumb:
    """Taps on a touch screen, counted."""

    def __init__(self) -> None:
        self.taps = 0

    def tap(self, locator: Any) -> None:
        locator.tap()
        self.taps += 1


def expect_live(page: Any) -> None:
    """The page's request socket is open: it joined its groups before it was accepted."""
    from playwright.sync_api import expect

    expect(page.locator("#req-conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)


def mark_page(page: Any) -> None:
    page.evaluate("() => { window.__marker = 1; }")


def assert_not_reloaded(page: Any, what: str) -> None:
    assert page.evaluate("() => window.__marker") == 1, f"{what} was reloaded"


def send_from_search(page: Any, world: World, urgency: str, thumb: Thumb | None = None) -> PlacementRequest:
    """From the search results: Ask for a place on WKZ, the urgency, Send. Returns the request sent."""
    from playwright.sync_api import expect

    thumb = thumb or Thumb()
    result = page.locator(f"#result-{world.location.pk}")
    expect(result).to_be_visible()
    thumb.tap(result.locator("a.ask-link", has_text="Ask for a place"))
    page.wait_for_url(re.compile(r"/requests/new/\?"))
    form = page.locator("form.request-form")
    # Pre-filled: the care from the search, arrival in 30 minutes, her number from her account.
    expect(form.locator('input[name="care_type"][value="overdracht"]')).to_be_checked()
    expect(form.locator('input[name="arrival_in"][value="30"]')).to_be_checked()
    expect(form.locator('input[name="callback_phone"]')).to_have_value(CALLBACK)
    thumb.tap(form.locator(f'label:has(input[name="urgency"][value="{urgency}"])'))
    expect(form.locator(f'input[name="urgency"][value="{urgency}"]')).to_be_checked()
    if urgency == "urgent":
        page.screenshot(path=SHOT.format("midwife-form"), full_page=True)
    thumb.tap(form.get_by_role("button", name="Send the request"))
    page.wait_for_url(re.compile(r"/requests/[0-9a-f-]{36}/$"))
    sent = PlacementRequest.objects.filter(midwife=world.midwife).order_by("-pk").first()
    assert sent is not None
    assert (sent.location_id, sent.urgency, sent.state) == (world.location.pk, urgency, "sent")
    assert page.url.endswith(f"/requests/{sent.ask}/")
    return sent


def test_request_reaches_the_desk_on_another_process_and_the_acceptance_comes_back(
    world: World, servers: Servers, chromium: Browser
) -> None:
    from playwright.sync_api import expect

    wkz = world.location
    desk = chromium.open(servers.b, "staff", "/requests/desk/")
    expect_live(desk)
    expect(desk.locator(f"#desk-location-{wkz.pk}")).to_contain_text("No placement requests for WKZ Utrecht.")
    mark_page(desk)

    phone = chromium.open(servers.a, "midwife", SEARCH, phone=True)
    thumb = Thumb()
    sent = send_from_search(phone, world, "urgent", thumb)
    assert thumb.taps <= 3, f"{thumb.taps} taps from the results page to a sent request"
    expect_live(phone)
    mark_page(phone)
    expect(phone.locator(f"#req-{sent.pk}")).to_contain_text("Waiting for an answer")

    # On B, without reload: the card, the urgency in words, the tel: link to call her back.
    card = desk.locator(f"#desk-location-{wkz.pk} #req-{sent.pk}")
    expect(card).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(card.locator("h3")).to_have_text("Request: urgent: needs a place within the hour")
    expect(card.locator("dd.urgency")).to_contain_text("Urgent: needs a place within the hour")
    call = card.locator(f'a[href="tel:{CALLBACK}"]')
    expect(call).to_be_visible()
    expect(call).to_contain_text(f"Call the midwife: {CALLBACK}")
    assert_not_reloaded(desk, "the desk")
    desk.screenshot(path=SHOT.format("desk-request"), full_page=True)

    # One tap on B; on A her phone says so without reload.
    card.get_by_role("button", name="Accept: she can come").click()
    mine = phone.locator(f"#req-{sent.pk}")
    expect(mine).to_have_attribute("data-state", "accepted", timeout=LIVE_TIMEOUT)
    expect(mine.locator(".req-state")).to_contain_text("Accepted: she can come")
    expect(phone.locator(".ask-placed")).to_contain_text("WKZ Utrecht takes her in.")
    assert_not_reloaded(phone, "the midwife's request page")
    phone.screenshot(path=SHOT.format("midwife-accepted"), full_page=True)

    # The desk asks staff to lower the free beds themselves: one button per unit with a free bed.
    prompt = desk.locator("#desk-notice .bed-prompt")
    expect(prompt).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(prompt.get_by_role("button", name="Delivery suite: 4 → 3 free")).to_be_visible()
    # What her tap said stays beside the desk: the push that replaced the desk section left it alone.
    expect(desk.locator("#desk-notice .saved")).to_contain_text("Accepted: the midwife is told at once.")
    expect(desk.locator(f"#req-{sent.pk}")).to_have_attribute("data-state", "accepted")
    assert_not_reloaded(desk, "the desk")
    desk.screenshot(path=SHOT.format("desk-accepted"), full_page=True)

    sent.refresh_from_db()
    assert sent.state == "accepted"
    steps = PlacementEvent.objects.filter(request=sent).order_by("version").values_list("after", "by", "via")
    assert list(steps)[-1] == ("accepted", world.staff.pk, "web")
    world.unit.refresh_from_db()
    assert world.unit.available == 4  # nothing changes by itself: staff lower it if she takes a bed


@pytest.mark.celery_worker
def test_a_decline_offers_the_next_location_and_counts_as_a_refusal(
    world: World, servers: Servers, worker: None, chromium: Browser
) -> None:
    """The refusal is aggregated by a real Celery worker (``worker``), as in production."""
    from playwright.sync_api import expect

    wkz, diak = world.location, world.other_location
    # The coordinator watches this week's statistics on A (where the refusal will fall).
    stats = chromium.open(servers.a, "coordinator", f"/statistics/{world.region.code}/?period=week")
    expect(stats.locator("#stats-conn")).to_have_class(re.compile(r"\bconn-live\b"), timeout=LIVE_TIMEOUT)
    expect(stats.locator(".stats-number")).to_have_text("0")
    mark_page(stats)
    desk = chromium.open(servers.b, "staff", "/requests/desk/")
    expect_live(desk)

    phone = chromium.open(servers.a, "midwife", SEARCH, phone=True)
    sent = send_from_search(phone, world, "immediate")
    expect_live(phone)
    mark_page(phone)

    # Decline: two taps on B (the <details>, then the reason).
    card = desk.locator(f"#req-{sent.pk}")
    expect(card).to_be_visible(timeout=LIVE_TIMEOUT)
    card.locator("details.decline > summary", has_text="Decline").click()
    card.get_by_role("button", name="No staff").click()
    expect(desk.locator(f"#desk-location-{wkz.pk} #req-{sent.pk}")).to_have_attribute("data-state", "declined")
    # The saved line sits outside the section the push replaces, so it is still there.
    expect(desk.locator("#desk-notice .saved")).to_contain_text("Declined: the midwife is told at once")

    # On A, live: the decline and the next location of her search, one tap away.
    mine = phone.locator(f"#req-{sent.pk}")
    expect(mine).to_have_attribute("data-state", "declined", timeout=LIVE_TIMEOUT)
    expect(mine.locator(".req-state")).to_contain_text("Declined: no staff")
    next_box = phone.locator(".ask-next")
    expect(next_box).to_contain_text("No place yet.")
    expect(next_box.get_by_role("button", name=f"Ask {diak.name}")).to_be_visible()
    assert_not_reloaded(phone, "the midwife's request page")
    phone.screenshot(path=SHOT.format("midwife-declined"), full_page=True)

    refusal = Refusal.objects.get()
    assert (refusal.source, refusal.location_id, refusal.reason, refusal.registered_by_id) == (
        "request",
        wkz.pk,
        "no_staff",
        world.midwife.pk,
    )
    sent.refresh_from_db()
    assert (sent.state, sent.decline_reason, sent.refusal_id) == ("declined", "no_staff", refusal.pk)

    # Aggregated by the worker, pushed, re-fetched: the coordinator's open page counts it.
    expect(stats.locator(".stats-number")).to_have_text("1", timeout=LIVE_TIMEOUT)
    expect(stats.locator("#stats-body")).to_contain_text("WKZ Utrecht")
    assert_not_reloaded(stats, "the statistics page")
    stats.screenshot(path=SHOT.format("statistics"), full_page=True)
    assert sum(RefusalDaily.objects.values_list("count", flat=True)) == 1


def test_no_answer_expires_raises_the_alert_and_the_next_request_is_one_tap(
    world: World, servers: Servers, chromium: Browser
) -> None:
    """The expiry runs here (``placement_expire_due``, what the beat's sweep calls) after the deadline
    is moved into the past; its pushes go from this process over Redis to both servers."""
    from playwright.sync_api import expect

    wkz, diak = world.location, world.other_location
    coordinator = chromium.open(servers.b, "coordinator", f"/board/region/{world.region.code}/")
    coordinator.wait_for_function("() => (window.__wsOpen || []).includes('alert-banners')", timeout=LIVE_TIMEOUT)
    expect(coordinator.locator(".alert-banner")).to_have_count(0)
    mark_page(coordinator)
    desk = chromium.open(servers.b, "staff", "/requests/desk/")
    expect_live(desk)

    phone = chromium.open(servers.a, "midwife", SEARCH, phone=True)
    sent = send_from_search(phone, world, "immediate")
    expect_live(phone)
    mark_page(phone)
    expect(desk.locator(f"#req-{sent.pk}")).to_be_visible(timeout=LIVE_TIMEOUT)

    # Nobody answers: the deadline passes and the sweep expires the request.
    PlacementRequest.objects.filter(pk=sent.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert placement_expire_due() == 1

    mine = phone.locator(f"#req-{sent.pk}")
    expect(mine).to_have_attribute("data-state", "expired", timeout=LIVE_TIMEOUT)
    expect(mine.locator(".req-state")).to_contain_text("No answer in time: expired")
    next_box = phone.locator(".ask-next")
    expect(next_box).to_contain_text("No place yet.")
    ask_next = next_box.get_by_role("button", name=f"Ask {diak.name}")
    expect(ask_next).to_be_visible()
    assert_not_reloaded(phone, "the midwife's request page")
    phone.screenshot(path=SHOT.format("expired-escalation"), full_page=True)

    # The coordinator on B: the banner, without reload.
    banner = coordinator.locator(".alert-banner")
    expect(banner).to_have_count(1, timeout=LIVE_TIMEOUT)
    expect(banner).to_contain_text("A placement request to WKZ Utrecht sent at")
    expect(banner).to_contain_text("expired without an answer.")
    assert_not_reloaded(coordinator, "the coordinator's board")
    coordinator.screenshot(path=SHOT.format("coordinator-alert"), full_page=True)
    alert = Alert.objects.get()
    assert (alert.kind, alert.region_id, alert.location_id) == ("request_expired", world.region.pk, wkz.pk)

    # The desk no longer offers to answer it.
    expect(desk.locator(f"#desk-location-{wkz.pk} .req-waiting")).to_have_count(0, timeout=LIVE_TIMEOUT)

    # One tap: the same request to Diakonessenhuis, in the same ask.
    ask_next.tap()
    # (Not its "Request sent." line: the push that follows may already have replaced the panel.)
    expect(phone.locator(f"#ask-{sent.ask} article.req")).to_have_count(2, timeout=LIVE_TIMEOUT)
    following = PlacementRequest.objects.exclude(pk=sent.pk).get()
    assert (following.location_id, following.ask, following.urgency, following.callback_phone) == (
        diak.pk,
        sent.ask,
        sent.urgency,
        CALLBACK,
    )
    assert following.state == "sent"
    expect(phone.locator(f"#req-{following.pk}")).to_contain_text("Waiting for an answer")
    expect(phone.locator(".ask-next")).to_have_count(0)
    assert_not_reloaded(phone, "the midwife's request page")


def test_without_the_socket_the_request_page_polls(world: World, servers: Servers, chromium: Browser) -> None:
    """Every /ws/requests/ socket of her page is closed at once (Playwright's websocket route): the page
    says so and fetches its panel every 10 seconds, so the acceptance still shows."""
    from playwright.sync_api import expect

    desk = chromium.open(servers.b, "staff", "/requests/desk/")
    expect_live(desk)
    phone = chromium.open(servers.a, "midwife", SEARCH, phone=True)
    phone.route_web_socket(re.compile(r"/ws/requests/"), lambda ws: ws.close())
    sent = send_from_search(phone, world, "urgent")
    conn = phone.locator("#req-conn")
    expect(conn).to_have_class(re.compile(r"\bconn-offline\b"), timeout=LIVE_TIMEOUT)
    expect(conn).to_contain_text("Connection lost: checking every 10 seconds")
    mark_page(phone)
    polls: list[str] = []
    phone.on("request", lambda r: polls.append(r.url) if f"/requests/{sent.ask}/panel/" in r.url else None)

    card = desk.locator(f"#req-{sent.pk}")
    expect(card).to_be_visible(timeout=LIVE_TIMEOUT)
    card.get_by_role("button", name="Accept: she can come").click()
    expect(desk.locator(f"#req-{sent.pk}")).to_have_attribute("data-state", "accepted")

    mine = phone.locator(f"#req-{sent.pk}")
    expect(mine).to_have_attribute("data-state", "accepted", timeout=POLL_TIMEOUT)
    expect(mine.locator(".req-state")).to_contain_text("Accepted: she can come")
    assert_not_reloaded(phone, "the midwife's request page")
    assert phone.evaluate("() => (window.__wsOpen || []).length") == 0, "a socket opened after all"
    assert polls, "the acceptance came without a poll of the panel"
