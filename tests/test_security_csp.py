"""The Content-Security-Policy in a real headless Chromium: every main page works under it.

Each page is opened as a role that uses it, with a listener for ``securitypolicyviolation`` events
installed before any of the page's scripts run, and the browser console watched for CSP and
Permissions-Policy complaints. The pages must show what proves their scripts ran under the policy:
the board's live socket (connect-src), htmx swaps, the statistics charts (Chart.js), Swagger UI.
The policy itself is in config/settings.py (CONTENT_SECURITY_POLICY), documented in docs/security.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_server
from tests.test_accessibility import fill_world, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10_000  # ms
# Installed before the page's own scripts: every violation the browser reports lands in a list.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`
  );
});
"""
# What Chromium prints when a policy blocks something or a header does not parse.
CONSOLE_PROBLEM = re.compile(r"Content Security Policy|Content-Security-Policy|Permissions-Policy|Refused to", re.I)


@dataclass(frozen=True)
class Visit:
    name: str
    role: str  # a World persona, or "anonymous"
    path: str
    ready: Callable[[Any], None]  # waits until the page shows its scripts ran


def shows(selector: str) -> Callable[[Any], None]:
    def ready(page: Any) -> None:
        page.locator(selector).first.wait_for(state="visible", timeout=TIMEOUT)

    return ready


def board_live(page: Any) -> None:
    """The socket opened: connect-src lets the page reach ws:// of its own host."""
    page.locator("#conn.conn-live").wait_for(timeout=TIMEOUT)


def grid_board(page: Any) -> None:
    board_live(page)
    # Switch to cards and back through the page's own script: htmx swaps, no reload.
    page.locator("[data-layout-toggle] button[value=cards]").click()
    page.locator('#board-list[data-layout="cards"]').wait_for(timeout=TIMEOUT)
    page.locator("[data-layout-toggle] button[value=grid]").click()
    page.locator('#board-list[data-layout="grid"]').wait_for(timeout=TIMEOUT)
    columns = page.locator(".grid-head-units").evaluate("el => getComputedStyle(el).gridTemplateColumns")
    assert len(columns.split()) >= 3, columns  # the columns come from app.css, not a style attribute


def units_error(page: Any) -> None:
    """An htmx post whose 400 answer is swapped in: the error sits beside the field."""
    form = page.locator("form.unit-form").first
    form.locator("input[name=available]").fill("99")
    form.locator("button.primary").click()
    page.locator("form.unit-form .field-error").first.wait_for(timeout=TIMEOUT)


def charts(page: Any) -> None:
    page.locator(".chart-box:not([hidden]) canvas").first.wait_for(timeout=TIMEOUT)
    assert page.evaluate("() => !!Chart.getChart(document.querySelector('.chart-box:not([hidden]) canvas'))")


def search_results(page: Any) -> None:
    page.locator("#search-results").wait_for(timeout=TIMEOUT)
    page.locator("#search-conn.conn-live").wait_for(timeout=TIMEOUT)


def visits(world: World, screen_token: str) -> list[Visit]:
    region = world.region.code
    return [
        Visit("login", "anonymous", "/accounts/login/", shows("#id_username")),
        Visit("board", "midwife", f"/board/region/{region}/", board_live),
        Visit("board, grid", "coordinator", f"/board/region/{region}/?layout=grid", grid_board),
        Visit("wall screen", "anonymous", f"/board/screen/{screen_token}/", board_live),
        Visit("my units", "staff", "/units/", units_error),
        Visit("search, results", "midwife", "/search/?where=3584&care=overdracht&weeks=36", search_results),
        Visit("refusal form", "midwife", f"/refusals/new/?location={world.location.pk}", shows("form.refusal-form")),
        Visit("my refusals", "midwife", "/refusals/", shows("main h1")),
        Visit("statistics", "coordinator", f"/statistics/{region}/", charts),
        Visit("quarterly report", "coordinator", f"/statistics/{region}/report/", shows("main h1")),
        Visit("accounts", "org_admin", "/accounts/members/", shows("main h1")),
        Visit("phones", "org_admin", "/accounts/phones/", shows("main h1")),
        Visit("API tokens", "coordinator", "/accounts/api-tokens/", shows("main h1")),
        Visit("care-level rules", "national_admin", "/search/rules/", shows("main h1")),
        Visit("admin index", "national_admin", "/admin/", shows("#content")),
        Visit("API docs (Swagger UI)", "midwife", "/api/v1/docs", shows(".swagger-ui .opblock")),
    ]


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server() as live:
        yield live


def test_no_page_reports_a_content_security_policy_violation(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import ConsoleMessage, Error, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    token = fill_world(world)
    personas = world.personas()
    failures: list[str] = []
    pages = visits(world, token)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for visit in pages:
                context = browser.new_context(
                    locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 390, "height": 844}
                )
                context.add_init_script(script=LISTEN)
                cookies: list[Any] = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "nl", "url": server.url}]
                if visit.role != "anonymous":
                    cookies.append(session_cookie(personas[visit.role], server.url))
                context.add_cookies(cookies)
                page = context.new_page()
                console: list[str] = []

                def on_console(msg: ConsoleMessage, into: list[str] = console) -> None:
                    if msg.type in {"error", "warning"} and CONSOLE_PROBLEM.search(msg.text):
                        into.append(f"console {msg.type}: {msg.text}")

                def on_page_error(error: Error, into: list[str] = console) -> None:
                    into.append(f"page error: {error}")

                page.on("console", on_console)
                page.on("pageerror", on_page_error)
                try:
                    response = page.goto(server.url + visit.path, wait_until="load")
                    assert response is not None and response.status == 200, (visit.name, response and response.status)
                    assert "default-src 'self'" in response.headers.get("content-security-policy", ""), visit.name
                    assert "/accounts/login/" not in page.url or visit.role == "anonymous", (visit.name, page.url)
                    visit.ready(page)
                    page.wait_for_timeout(300)  # late reports (a lazily loaded image or font)
                    problems = page.evaluate("() => window.__cspViolations") + console
                    if problems:
                        failures.append("\n".join([f"  {visit.name} ({visit.role}: {page.url})", *problems]))
                finally:
                    context.close()
        finally:
            browser.close()

    assert not failures, f"{len(failures)} of {len(pages)} pages broke the policy:\n" + "\n".join(failures)


def test_htmx_runs_without_eval_or_an_injected_style(world: World, server: LiveServer) -> None:
    """The meta config in base.html is what htmx read: no eval, no <style> it would add (blocked)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.add_init_script(script=LISTEN)
            page.goto(f"{server.url}/accounts/login/", wait_until="load")
            page.wait_for_function("() => !!window.htmx")
            config = page.evaluate("() => [htmx.config.allowEval, htmx.config.includeIndicatorStyles]")
            assert config == [False, False]
            assert page.locator("style").count() == 0
            # The policy is really enforced: an inline script added now is refused and reported.
            page.evaluate(
                "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                " document.head.append(s); }"
            )
            page.wait_for_function("() => window.__cspViolations.length > 0")
            assert page.evaluate("() => window.__ran") is None
        finally:
            browser.close()
