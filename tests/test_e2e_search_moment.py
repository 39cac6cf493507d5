"""End to end in Chromium on a phone: a Utrecht midwife searches for a client in labour at a Groningen postcode.

The acute moment of issue 10: the search follows the client's origin, not the midwife's account;
the nearest NICU centre comes first although its delivery suite is full, with mother and baby side
by side; the form folds into one line and focus moves to the first result.
Screenshots for a human: /tmp/e2e-search-moment-{en,nl}.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from capacity.models import Unit
from hospitals.models import Location, Organisation, Postcode, Region
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 390, "height": 844}
SHOT = "/tmp/e2e-search-moment-{lang}.png"  # noqa: S108 - a screenshot for a human


@dataclass
class Groningen:
    umcg: Location  # NICU centre, 1.5 km from 9713: delivery suite full, one NICU cot free
    martini: Location  # high care, 3 km: delivery suite with room


def make_groningen() -> Groningen:
    region = Region.objects.create(code="noord", name="Acute Zorgnetwerk Noord-Nederland")
    org = Organisation.objects.create(name="Groningen hospitals", kind=Organisation.Kind.HOSPITAL, region=region)
    Postcode.objects.create(
        pc4="9713",
        place="Groningen",
        municipality="Groningen",
        province="Groningen",
        latitude=53.2299,
        longitude=6.5535,
    )

    def loc(slug: str, name: str, level: int, lat: float, lon: float) -> Location:
        return Location.objects.create(
            slug=slug,
            name=name,
            organisation=org,
            region=region,
            city="Groningen",
            latitude=lat,
            longitude=lon,
            neonatal_level=level,
        )

    umcg = loc("umcg", "UMCG Groningen", 3, 53.22296, 6.57421)
    Unit.objects.create(location=umcg, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=12, available=0)
    Unit.objects.create(location=umcg, kind=Unit.Kind.NICU, staffed_total=24, available=1)
    martini = loc("martini", "Martini Groningen", 2, 53.19451, 6.54926)
    Unit.objects.create(location=martini, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=10, available=3)
    Unit.objects.create(location=martini, kind=Unit.Kind.HIGH_CARE, staffed_total=4, available=1)
    return Groningen(umcg, martini)


@pytest.fixture
def groningen(world: World) -> Groningen:
    return make_groningen()


@pytest.fixture
def server(world: World, groningen: Groningen) -> Iterator[LiveServer]:
    with browser_server(world.midwife, password=PASSWORD) as live:
        yield live


def test_a_search_at_a_groningen_postcode_follows_the_client_with_the_nearest_first(
    world: World, groningen: Groningen, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in ("en", "nl"):
                context = browser.new_context(
                    locale="en-GB" if lang == "en" else "nl-NL", timezone_id="Europe/Amsterdam", viewport=PHONE
                )
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
                try:
                    browser_log_in(page, server, "midwife", PASSWORD, "/search/")
                    page.wait_for_url(re.compile(r"/search/$"))
                    context.add_cookies([{"name": "django_language", "value": lang, "url": server.url}])
                    page.goto(f"{server.url}/search/")
                    # The postcode field has focus on load: she types at once.
                    assert page.evaluate("() => document.activeElement.id") == "id_where"
                    page.keyboard.type("9713")
                    page.locator("input[name=care][value=overdracht]").check()
                    page.locator("#id_weeks").fill("30")
                    page.locator("form.search-form button[type=submit]").click()

                    results = page.locator("#search-results .result")
                    first = results.first
                    # 30 weeks: the NICU centre 1.5 km away is first, although its delivery suite is full.
                    expect(first).to_have_id(f"result-{groningen.umcg.pk}")
                    expect(first).to_have_attribute("data-state", "full")
                    expect(first.locator(".nearest-label")).to_be_visible()
                    # Mother and baby side by side, each with its figures.
                    mother, baby = first.locator(".side-mother"), first.locator(".side-baby")
                    expect(mother).to_contain_text("0/12")
                    expect(baby).to_contain_text("1/24")
                    m, b = mother.bounding_box(), baby.bounding_box()
                    assert m and b and abs(m["y"] - b["y"]) < 4 and b["x"] > m["x"] + m["width"] - 1
                    # The form folded into one line; focus and view on the first result.
                    summary = page.locator("details.search-edit > summary")
                    expect(summary).to_contain_text("9713")
                    expect(summary).to_contain_text("30")
                    assert page.evaluate("() => document.querySelector('details.search-edit').open") is False
                    expect(first.locator("h3")).to_be_focused()
                    box = first.bounding_box()
                    assert box is not None and -2 <= box["y"] < PHONE["height"] / 2
                    # Rounded travel time with a ±; Utrecht (about 2 hours) listed after, flagged as far.
                    expect(first.locator(".travel")).to_contain_text("±")
                    ids = results.evaluate_all("(items) => items.map((li) => li.id)")
                    assert ids[0] == f"result-{groningen.umcg.pk}" and f"result-{world.location.pk}" in ids
                    wkz = page.locator(f"#result-{world.location.pk}")
                    expect(wkz.locator(".flag-far")).to_be_visible()
                    expect(wkz.locator(".flag-region")).to_be_visible()
                    # The heading says the real order.
                    heading = "Nearest place first" if lang == "en" else "Dichtstbijzijnde plek eerst"
                    expect(page.locator("#results-head")).to_contain_text(heading)

                    # At term Groningen has room: Utrecht's hospitals are not listed at all.
                    summary.click()
                    page.locator("#id_weeks").fill("39")
                    page.locator("form.search-form button[type=submit]").click()
                    expect(first).to_have_id(f"result-{groningen.umcg.pk}")
                    expect(page.locator(f"#result-{groningen.martini.pk}")).to_be_visible()
                    expect(page.locator(f"#result-{world.location.pk}")).to_have_count(0)
                finally:
                    page.screenshot(path=SHOT.format(lang=lang), full_page=True)
                    context.close()
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"
