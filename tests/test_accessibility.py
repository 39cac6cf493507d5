"""Accessibility guard: axe-core in a real headless Chromium over every page people use at night.

Each demo role's main pages, some in an error state, are opened in Dutch and in English and
checked at phone width (375 x 740) and on a desktop (1280 x 900). Any axe violation of impact
"serious" or "critical" fails the test, listed page by page. axe-core is vendored in
tests/vendor/axe-core/ (see SOURCE.md there); what it does not cover is in docs/accessibility.md.

Set A11Y_OUTPUT=/some/dir to keep a full-page screenshot of every page at both widths and every
violation found, of any impact, in violations.json there (for a person to look through).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from capacity.models import Unit
from capacity.services import CapacityChange, board_token_issue, unit_update_capacity
from hospitals.models import User
from kraamzorg import aggregation as kraamzorg_aggregation
from kraamzorg.models import IntakeWeek, WorkArea, monday_of
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from kraamzorg.shortages import ShortageInput, shortage_register
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_send, placement_transition
from refusals import aggregation
from refusals.models import Alert, Refusal
from refusals.statistics import Period
from tests.conftest import World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_server
from tests.search_world import make_postcodes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
LANGUAGES = {"nl": "nl-NL", "en": "en-GB"}
VIEWPORTS: dict[str, Any] = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1280, "height": 900}}
FAILING_IMPACTS = {"serious", "critical"}
# WCAG 2.0-2.2 A and AA, plus axe's best practices (landmarks, heading order, ...).
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
# Violations on pages this branch may not change, each with its page, rule and element. Remove an
# entry once its page is fixed; anything else on those pages still fails.
# Elements a check may skip, by (page, axe rule): none at the moment. Add one only with a reason.
KNOWN: dict[tuple[str, str], set[str]] = {}
# Checks axe does not make: a page wider than a phone; references to ids that are not on the page
# (an error or help text a field points at); and, on a phone, thumb-sized controls: axe asks for
# 24 px (WCAG 2.2 AA), we keep buttons, fields and the main navigation at 44 px or more.
OWN_CHECKS = """(phone) => {
  const problems = [];
  const name = (el) => `<${el.localName}${el.id ? "#" + el.id : ""}${el.className ? "." + el.className : ""}>`;
  if (phone) {
    const controls = [
      "button, .button, select, input:not([type=hidden], [type=radio], [type=checkbox]), .radio",
      ".top nav a, .regions a, .refused-here, .actions > a, td > a",
    ].join(", ");
    for (const el of document.querySelectorAll(controls)) {
      const box = el.getBoundingClientRect();
      const text = (el.textContent || el.value || "").split(/\\s+/).join(" ").trim().slice(0, 30);
      if (box.width && box.height && box.height < 43.5) problems.push(`${name(el)} "${text}" is ${box.height}px high`);
    }
  }
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  if (overflow > 1) {
    const wide = [...document.body.querySelectorAll("*")].filter(
      (el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !clipped(el)
    );
    const innermost = wide.filter((el) => !wide.some((other) => other !== el && el.contains(other)));
    problems.push(`page is ${overflow}px wider than the screen: ${innermost.slice(0, 3).map(name).join(", ")}`);
  }
  for (const el of document.querySelectorAll("[aria-describedby], [aria-labelledby]")) {
    for (const attr of ["aria-describedby", "aria-labelledby"]) {
      for (const id of (el.getAttribute(attr) || "").split(" ").filter(Boolean)) {
        if (!document.getElementById(id)) problems.push(`${attr}="${id}" on ${name(el)} points at nothing`);
      }
    }
  }
  return problems;
}"""


@dataclass(frozen=True)
class Visit:
    """One page state to check: who looks at it, and how to get there from a fresh tab."""

    name: str
    role: str  # a World persona, or "anonymous"
    open: Callable[[Any, str], None]  # (page, server url) -> None


def goto(path: str) -> Callable[[Any, str], None]:
    def open_(page: Any, base: str) -> None:
        page.goto(base + path, wait_until="load")

    return open_


def login_error(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_username").fill("nobody")
    page.locator("#id_password").fill("wrong-password-here")
    page.locator("button.primary").click()
    page.locator("#login-errors").wait_for()


def units_error(page: Any, base: str) -> None:
    """More beds free than staffed: the form comes back (htmx swap) with the error tied to the field."""
    page.goto(f"{base}/units/")
    form = page.locator("form.unit-form").first
    form.locator("input[name=available]").fill("99")
    form.locator("button.primary").click()
    form = page.locator("form.unit-form").first
    form.locator(".field-error").first.wait_for()


def refusal_error(page: Any, base: str) -> None:
    """An empty refusal form sent as is: every required field says what is missing."""
    page.goto(f"{base}/refusals/new/")
    page.locator("form.refusal-form button.primary").click()
    page.locator(".field-error").first.wait_for()


def shortage_error(page: Any, base: str) -> None:
    """An empty kraamzorg shortage form sent as is: every required field says what is missing."""
    page.goto(f"{base}/kraamzorg/shortages/new/")
    page.locator("form.shortage-form button.primary").click()
    page.locator(".field-error").first.wait_for()


def units_conflict(world: World) -> Callable[[Any, str], None]:
    """Someone else saves the NICU while the page is open: saving it shows the conflict message."""

    def open_(page: Any, base: str) -> None:
        page.goto(f"{base}/units/")
        nicu = Unit.objects.get(pk=world.nicu.pk)
        change = CapacityChange(staffed_total=nicu.staffed_total, available=(nicu.available + 1) % 10, status="open")
        unit_update_capacity(unit_id=nicu.pk, by=world.staff, change=change, expected_version=nicu.version)
        form = page.locator(f"#unit-{nicu.pk}")
        form.locator("button.primary").click()
        page.locator(f"#unit-{nicu.pk} .conflict").wait_for()

    return open_


def request_error(world: World) -> Callable[[Any, str], None]:
    """The request form sent without an urgency: the error is tied to its field."""

    def open_(page: Any, base: str) -> None:
        page.goto(f"{base}/requests/new/?location={world.location.pk}&where=3584&care=overdracht")
        page.locator("form.request-form button.primary").click()
        page.locator(".field-error").first.wait_for()

    return open_


def desk_accept(world: World) -> Callable[[Any, str], None]:
    """Staff accept the waiting request: the desk shows the one-tap prompt to lower the free beds."""

    def open_(page: Any, base: str) -> None:
        # A request of its own each time (the page is checked in both languages).
        data = PlacementInput(
            location_id=world.location.pk, care_type="begeleiding", urgency="planned",
            expected_arrival=timezone.now() + timedelta(hours=1), callback_phone="06 1234 5678",
        )  # fmt: skip
        request = placement_send(by=world.midwife, data=data)
        page.goto(f"{base}/requests/desk/")
        page.locator(f"#req-{request.pk} button.accept").click()
        page.locator(".bed-prompt").wait_for()

    return open_


def visits(world: World, screen_token: str) -> list[Visit]:
    region = world.region.code
    own_refusal = Refusal.objects.filter(registered_by=world.midwife).latest("occurred_at").pk
    ask_from = "where=3584&care=overdracht&weeks=36"
    declined = PlacementRequest.objects.filter(state="declined").get()
    return [
        Visit("login", "anonymous", goto("/accounts/login/")),
        Visit("login, wrong password", "anonymous", login_error),
        Visit("wall screen", "anonymous", goto(f"/board/screen/{screen_token}/")),
        Visit("wall screen, unknown link", "anonymous", goto("/board/screen/no-such-link/")),
        Visit("my units", "staff", goto("/units/")),
        Visit("intake weeks", "planner", goto("/kraamzorg/plan/")),
        Visit("my units, invalid figures", "staff", units_error),
        Visit("my units, conflict", "staff", units_conflict(world)),
        Visit("board, region", "midwife", goto(f"/board/region/{region}/")),
        Visit("board, national", "national_admin", goto("/board/")),
        Visit("board, grid", "coordinator", goto(f"/board/region/{region}/?layout=grid")),
        Visit("refusal form", "midwife", goto(f"/refusals/new/?location={world.location.pk}")),
        Visit("refusal form, errors", "midwife", refusal_error),
        Visit("my refusals", "midwife", goto("/refusals/")),
        Visit("withdraw a refusal", "midwife", goto(f"/refusals/{own_refusal}/withdraw/")),
        Visit("search", "midwife", goto("/search/")),
        Visit("search, results", "midwife", goto("/search/?where=3584&care=overdracht&weeks=36")),
        Visit("search, mother and baby", "midwife", goto("/search/?where=3584&care=overdracht&weeks=28")),
        Visit("search, unknown postcode", "midwife", goto("/search/?where=0000&care=begeleiding")),
        Visit("kraamzorg tab", "midwife", goto("/search/kraamzorg/")),
        Visit("kraamzorg tab, results", "midwife", goto(f"/search/kraamzorg/?pc4=3584&due={weeks_ahead()[1]}")),
        Visit("kraamzorg tab, errors", "midwife", goto("/search/kraamzorg/?pc4=0000&due=2000-01-01")),
        Visit("kraamzorg shortage form", "midwife", goto("/kraamzorg/shortages/new/?pc4=3584")),
        Visit("kraamzorg shortage form, errors", "midwife", shortage_error),
        Visit("my kraamzorg shortages", "midwife", goto("/kraamzorg/shortages/")),
        Visit("statistics", "coordinator", goto(f"/statistics/{region}/")),
        Visit("quarterly report", "coordinator", goto(f"/statistics/{region}/report/")),
        Visit("after a refusal", "coordinator", goto(f"/statistics/{region}/outcomes/")),
        Visit("after a refusal, suppressed", "national_admin", goto(f"/statistics/{region}/outcomes/")),
        Visit("regions compared", "coordinator", goto("/statistics/benchmark/")),
        Visit("placement request statistics", "coordinator", goto(f"/statistics/{region}/requests/")),
        Visit("kraamzorg, region", "coordinator", goto(f"/statistics/{region}/kraamzorg/")),
        Visit("kraamzorg, region, suppressed", "national_admin", goto(f"/statistics/{region}/kraamzorg/")),
        Visit("wall-screen links", "coordinator", goto("/screens/")),
        Visit("alert e-mails", "coordinator", goto("/accounts/alert-emails/")),
        Visit("accounts", "org_admin", goto("/accounts/members/")),
        Visit("care-level rules", "national_admin", goto("/search/rules/")),
        Visit("placement request form", "midwife", goto(f"/requests/new/?location={world.location.pk}&{ask_from}")),
        Visit("placement request form, errors", "midwife", request_error(world)),
        Visit("my placement requests", "midwife", goto("/requests/")),
        Visit("placement request, declined", "midwife", goto(f"/requests/{declined.ask}/")),
        Visit("placement desk", "staff", goto("/requests/desk/")),
        Visit("placement desk, accepted", "staff", desk_accept(world)),
    ]


def fill_world(world: World) -> str:
    """What the pages need to show more than an empty state; returns a wall-screen token."""
    make_postcodes()
    world.location.phone = "030 250 9111"
    world.location.save(update_fields=["phone"])
    # Every kind of status mark on the board, the staff page and the search results: full and in
    # an admission stop past its expected end, limited, out of date.
    now = timezone.now()
    Unit.objects.filter(pk=world.other_unit.pk).update(
        available=0, status=Unit.Status.STOP, stop_reason=Unit.StopReason.STAFF, stop_expected_end=now
    )
    Unit.objects.filter(pk=world.unit.pk).update(status=Unit.Status.LIMITED, available=1)
    stale = now - settings.CAPACITY_STALE_AFTER - timedelta(minutes=5)
    Unit.objects.filter(pk=world.nicu.pk).update(confirmed_at=stale)
    # Refusals in the last full quarter (what the statistics and the report show by default)
    # and one just now (the midwife's own list, where it can still be corrected).
    quarter = Period.last_full_quarter(timezone.localdate())
    start = timezone.make_aware(datetime.combine(quarter.start, time.min))
    for days, hour, location in ((3, 2, world.location), (20, 4, world.other_location), (40, 14, world.location)):
        Refusal.objects.create(
            occurred_at=start + timedelta(days=days, hours=hour),
            location=location,
            region=world.region,
            care_type="overdracht",
            reason="no_delivery_room",
            outcome="home",
            registered_by=world.midwife,
        )
    Refusal.objects.create(
        occurred_at=timezone.now() - timedelta(hours=1),
        location=world.location,
        region=world.region,
        care_type="begeleiding",
        reason="no_staff",
        outcome="location",
        outcome_location=world.other_location,
        registered_by=world.midwife,
    )
    aggregation.rebuild()
    # The kraamzorg tab: the synthetic organisation serves 3584, with a minimum of hours in one week.
    WorkArea.objects.create(organisation=world.kraamzorg, pc4="3584")
    intake_week_set(by=world.planner, organisation_id=world.kraamzorg.pk, week=weeks_ahead()[1], expected_version=0,
                    change=IntakeChange(families=2, hours="minimum", minimum_hours=24, status="open"))  # fmt: skip
    Alert.objects.create(
        kind=Alert.Kind.LOCATION_SPIKE,
        key=f"spike:location:{world.location.pk}",
        region=world.region,
        location=world.location,
        count=3,
        detail={"refusals": [], "threshold": 3, "window_hours": 6},
    )

    # Placement requests: one waiting on the desk, one declined (the midwife's escalation).
    def ask(location_id: int, urgency: str) -> PlacementRequest:
        data = PlacementInput(
            location_id=location_id, care_type="overdracht", urgency=urgency, gestational_weeks=36,
            expected_arrival=timezone.now() + timedelta(minutes=30), callback_phone="06 1234 5678",
            search_origin="3584",
        )  # fmt: skip
        return placement_send(by=world.midwife, data=data)

    ask(world.location.pk, "immediate")
    declined = ask(world.other_location.pk, "urgent")
    placement_transition(request_id=declined.pk, to="declined", by=world.other_staff, reason="no_staff")
    # Kraamzorg: a second work area, a week with room and a stop, shortages (the region's view).
    monday = monday_of(timezone.localdate())
    WorkArea.objects.create(organisation=world.kraamzorg, pc4="3511")
    IntakeWeek.objects.create(organisation=world.kraamzorg, week=monday, families=2, hours="full", status="open")
    IntakeWeek.objects.create(
        organisation=world.kraamzorg, week=monday + timedelta(weeks=2), families=0, hours="full", status="stop",
        reason="staff",
    )  # fmt: skip
    for promised, vulnerable in ((24, "yes"), (0, "no"), (30, "unknown"), (24, "no"), (24, "no"), (10, "yes")):
        shortage_register(by=world.midwife, data=ShortageInput(
            pc4="3584", due_week=monday + timedelta(weeks=2), indicated_hours=49, promised_hours=promised,
            reason="staff", vulnerable=vulnerable))  # fmt: skip
    kraamzorg_aggregation.sweep()
    _, token = board_token_issue(label="Verloskamer", region_id=world.region.pk, by=world.coordinator)
    return token


def session_cookie(user: User, base: str) -> dict[str, Any]:
    """A logged-in session made in this process; the server reads it from the shared database."""
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}


# What keyboard focus looks like on the element that has it: "" when visible enough.
FOCUS_SEEN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "";
  // The calendar button inside a date field has focus: the browser draws its own ring there.
  if (!el.matches(":focus")) return "";
  const style = getComputedStyle(el);
  if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) return "";
  if (style.boxShadow && style.boxShadow !== "none") return "";
  const label = (el.textContent || el.value || el.getAttribute("aria-label") || "").split(/\\s+/).join(" ").trim();
  return `<${el.localName}${el.id ? "#" + el.id : ""}> "${label.slice(0, 30)}"`;
}"""
TABS = 25  # keyboard steps per page for the focus check


def invisible_focus(page: Any) -> list[str]:
    """Tab through the first controls of the page; those whose focus cannot be seen."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    unseen: list[str] = []
    for _ in range(TABS):
        page.keyboard.press("Tab")
        problem = page.evaluate(FOCUS_SEEN)
        if problem and problem not in unseen:
            unseen.append(problem)
    return unseen


def serious(page_name: str, violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations that fail the test: serious or critical, less the known ones above."""
    found = []
    for violation in violations:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        known = KNOWN.get((page_name, violation["id"]), set())
        nodes = [n for n in violation["nodes"] if " ".join(map(str, n["target"])) not in known]
        if nodes:
            found.append({**violation, "nodes": nodes})
    return found


def describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    more = len(violation["nodes"]) - len(targets)
    summary = (violation["nodes"][0].get("failureSummary") or "").replace("\n", " ")[:200]
    return (
        f"    [{violation['impact']}] {violation['id']}: {violation['help']}\n"
        f"      on {', '.join(targets)}{f' (+{more} more)' if more > 0 else ''}\n"
        f"      {summary}"
    )


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with browser_server() as live:
        yield live


def test_main_pages_have_no_serious_accessibility_violations(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    token = fill_world(world)
    personas = world.personas()
    pages = visits(world, token)
    axe_source = AXE.read_text()
    output = os.environ.get("A11Y_OUTPUT")
    if output:
        Path(output).mkdir(parents=True, exist_ok=True)
    everything: list[dict[str, Any]] = []
    failures: list[str] = []
    checked = 0

    def new_context(browser: Any, role: str, lang: str) -> Any:
        """One per role and language, reused for all that role's pages."""
        context = browser.new_context(
            locale=LANGUAGES[lang], timezone_id="Europe/Amsterdam", viewport=VIEWPORTS["phone"]
        )
        context.add_init_script(script=axe_source)
        # What the language switch sets (the server ignores Accept-Language: Dutch by default).
        cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": server.url}]
        if role != "anonymous":
            cookies.append(session_cookie(personas[role], server.url))
        context.add_cookies(cookies)
        return context

    def check(page: Any, visit: Visit, lang: str) -> None:
        nonlocal checked
        for size, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            if output:
                slug = visit.name.replace(", ", "-").replace(" ", "-")
                page.screenshot(path=f"{output}/{lang}-{size}-{slug}.png", full_page=True)
            result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
            checked += 1
            everything.extend({"page": visit.name, "lang": lang, "size": size, **v} for v in result["violations"])
            bad = [describe(v) for v in serious(visit.name, result["violations"])]
            bad += [f"    [own check] {problem}" for problem in page.evaluate(OWN_CHECKS, size == "phone")]
            if size == "desktop" and lang == "nl":  # focus styles do not depend on the language
                bad += [f"    [own check] keyboard focus not visible on {el}" for el in invisible_focus(page)]
            if bad:
                failures.append("\n".join([f"  {visit.name} ({visit.role}, {lang}, {size}: {page.url})", *bad]))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in LANGUAGES:
                contexts: dict[str, Any] = {}
                try:
                    for visit in pages:
                        if visit.role not in contexts:
                            contexts[visit.role] = new_context(browser, visit.role, lang)
                        page = contexts[visit.role].new_page()
                        try:
                            visit.open(page, server.url)
                            assert page.evaluate("document.documentElement.lang") == lang, visit.name
                            check(page, visit, lang)
                        finally:
                            page.close()
                finally:
                    for context in contexts.values():
                        context.close()
        finally:
            browser.close()

    if output:
        Path(output, "violations.json").write_text(json.dumps(everything, indent=1))
    assert checked == len(pages) * len(LANGUAGES) * len(VIEWPORTS)
    assert not failures, (
        f"{len(failures)} of {checked} page checks have serious or critical accessibility violations:\n"
        + "\n".join(failures)
    )
