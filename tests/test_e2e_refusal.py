"""End to end in a real headless Chromium on a phone: a midwife registers a refusal from a search
result and comes back to that search; withdrawing it asks first.

English interface (language cookie), so the test does not depend on translations of new strings.
Screenshots for a human: /tmp/e2e-refusal-form.png, /tmp/e2e-refusal-back.png.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

import pytest

from refusals.models import Refusal, RefusalEvent
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server
from tests.search_world import make_postcodes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEARCH = "/search/?where=3584&care=overdracht"  # WKZ first, then Diakonessenhuis
FORM_SHOT = "/tmp/e2e-refusal-form.png"  # noqa: S108 - a screenshot for a human
BACK_SHOT = "/tmp/e2e-refusal-back.png"  # noqa: S108


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    make_postcodes()
    with browser_server(world.midwife, password=PASSWORD) as live:
        yield live


def test_refused_here_from_a_search_returns_to_it_and_withdrawing_asks_first(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []
    wkz, diak = world.location, world.other_location

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 390, "height": 844}
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            try:
                browser_log_in(page, server, "midwife", PASSWORD)
                context.add_cookies([{"name": "django_language", "value": "en", "url": server.url}])

                # The search result list, as she sees it after searching.
                page.goto(server.url + SEARCH)
                result = page.locator(f"#result-{wkz.pk}")
                refused = result.get_by_role("link", name="Refused here")
                href = refused.get_attribute("href") or ""
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
                if "next" in query:
                    # The search passes where to come back to, and its results nearest first.
                    assert query["next"] == [SEARCH]
                    assert query["near"][0].split(",")[:2] == [str(wkz.pk), str(diak.pk)]
                    refused.click()
                else:  # the search's part of the contract is not there yet: open it as it will
                    params = {
                        "location": wkz.pk,
                        "care_type": "overdracht",
                        "next": SEARCH,
                        "near": f"{wkz.pk},{diak.pk}",
                    }
                    page.goto(f"{server.url}/refusals/new/?{urllib.parse.urlencode(params)}")
                page.wait_for_url(re.compile(r"/refusals/new/"))

                # Care type comes from the search; where she went: one tap on the search's next location.
                expect(page.locator('input[name="care_type"][value="overdracht"]')).to_be_checked()
                page.get_by_role("radio", name="no delivery room").check()
                near_group = page.get_by_role("group", name="Near the client (your search), nearest first")
                choice = near_group.get_by_role("radio", name="Diakonessenhuis Utrecht (Utrecht)")
                expect(near_group.get_by_role("radio", name=re.compile("WKZ"))).to_have_count(0)
                label = page.locator(f'label[for="{choice.get_attribute("id")}"]')
                box = label.bounding_box()
                assert box is not None and box["height"] >= 44, box  # a tap target on a phone
                label.click()
                expect(choice).to_be_checked()
                # That tap answered "where did the client go?" too.
                expect(page.locator('input[name="outcome"][value="location"]')).to_be_checked()
                expect(page.locator("#refusal-cancel")).to_have_attribute("href", SEARCH)
                page.screenshot(path=FORM_SHOT, full_page=True)
                page.get_by_role("button", name="Register refusal").click()

                # Back on the search she came from, with the confirmation.
                page.wait_for_url(lambda url: url.endswith(SEARCH))
                expect(page.locator(".messages")).to_contain_text("Refusal by WKZ Utrecht registered. Thank you.")
                expect(page.locator(f"#result-{wkz.pk}")).to_be_visible()
                page.screenshot(path=BACK_SHOT, full_page=True)
                refusal = Refusal.objects.get()
                assert (refusal.outcome, refusal.outcome_location_id, refusal.location_id) == (
                    "location",
                    diak.pk,
                    wkz.pk,
                )

                # Withdrawing asks first; "Keep" keeps it.
                page.goto(f"{server.url}/refusals/")
                page.get_by_role("link", name="Withdraw").click()
                page.wait_for_url(re.compile(rf"/refusals/{refusal.pk}/withdraw/$"))
                expect(page.locator("#withdraw-confirm")).to_contain_text("Withdraw the refusal by WKZ Utrecht of")
                page.get_by_role("link", name="Keep").click()
                page.wait_for_url(re.compile(r"/refusals/$"))
                refusal.refresh_from_db()
                assert refusal.withdrawn_at is None
                page.get_by_role("link", name="Withdraw").click()
                page.get_by_role("button", name="Withdraw").click()
                page.wait_for_url(re.compile(r"/refusals/$"))
                expect(page.locator(".messages")).to_contain_text("Refusal withdrawn.")
                expect(page.locator("tr.withdrawn")).to_contain_text("WKZ Utrecht")
            except Exception:
                page.screenshot(path=BACK_SHOT, full_page=True)
                raise
        finally:
            browser.close()

    refusal.refresh_from_db()
    assert refusal.withdrawn_at is not None
    assert list(RefusalEvent.objects.filter(refusal=refusal).values_list("action", "by")) == [
        ("register", world.midwife.pk),
        ("withdraw", world.midwife.pk),
    ]
    assert not errors, f"{errors}\n{server.log_tail()}"
