"""A midwife registers a kraamzorg shortage on a phone, in a real headless Chromium (issue 15): opened
from the lookup with the postcode area, due week and organisation filled in, it takes the reason, the
hours promised and one tap to register; a mistake is said beside its field; nothing wider than the
screen. Screenshots go to /tmp/e2e-kraamzorg-shortage-*.png for a human to look at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hospitals.models import Postcode
from kraamzorg.models import Shortage, ShortageEvent, monday_of
from tests.conftest import PASSWORD, World
from tests.live_server import PHONE_VIEWPORT, LiveServer, browser_server, phone_browser
from tests.test_e2e_staff import Thumb

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOT = "/tmp/e2e-kraamzorg-shortage-{}.png"  # noqa: S108 - a screenshot for a human, not a secret


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    Postcode.objects.create(pk="3584", place="Utrecht", municipality="Utrecht", province="Utrecht",
                            latitude=52.08, longitude=5.17)  # fmt: skip
    with browser_server(world.midwife, password=PASSWORD) as live:
        yield live


def reason(form: Any, value: str) -> Any:
    """The big button of one reason (the label that wraps its radio)."""
    return form.locator(f'label.radio:has(input[name="reason"][value="{value}"])')


@pytest.fixture
def phone(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # A 400 is the answer to bad input here (the form comes back with its messages); 5xx still fail.
    bad_input = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    with phone_browser(server, "midwife", PASSWORD, ignore=lambda text: text == bad_input) as page:
        yield page


def test_a_shortage_from_the_lookup_in_three_taps(world: World, server: LiveServer, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone
    week = monday_of(timezone.localdate() + timedelta(weeks=5))
    page.goto(f"{server.url}/kraamzorg/shortages/new/?pc4=3584&week={week:%Y-%m-%d}&organisation={world.kraamzorg.pk}")
    expect(page.get_by_label("Postcodegebied van het gezin (4 cijfers)")).to_have_value("3584")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    form = page.locator("form.shortage-form")
    thumb = Thumb()
    page.get_by_label("Toegezegde uren (0 = geen kraamzorg)").fill("24")  # typed, not a tap
    thumb.tap(reason(form, "staff"))
    thumb.tap(page.get_by_role("button", name="Tekort melden"))
    expect(page.get_by_text("Tekort gemeld voor 3584")).to_be_visible()
    assert thumb.taps == 2  # postcode, due week, organisation and the 49 indicated hours were there
    page.screenshot(path=SHOT.format("saved"), full_page=True)
    shortage = Shortage.objects.get()
    assert (shortage.pc4, shortage.due_week, shortage.organisation, shortage.promised_hours, shortage.reason) == (
        "3584", week, world.kraamzorg, 24, "staff")  # fmt: skip
    assert ShortageEvent.objects.get().by == world.midwife


def test_a_mistake_is_said_beside_its_field_and_nothing_is_saved(server: LiveServer, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone
    page.goto(f"{server.url}/kraamzorg/shortages/new/?pc4=3584")
    form = page.locator("form.shortage-form")
    page.get_by_label("Uitgerekende datum (elke dag van de week telt)").fill(
        f"{timezone.localdate() + timedelta(weeks=3):%Y-%m-%d}"
    )
    page.get_by_label("Toegezegde uren (0 = geen kraamzorg)").fill("60")
    reason(form, "staff").tap()
    page.get_by_role("button", name="Tekort melden").tap()
    error = page.locator("#id_promised_hours-error")
    expect(error).to_contain_text("minder zijn dan de geïndiceerde")
    described = page.get_by_label("Toegezegde uren (0 = geen kraamzorg)").get_attribute("aria-describedby")
    assert described == "id_promised_hours-error"
    expect(form.locator('input[name="reason"][value="staff"]')).to_be_checked()  # what she chose stays
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    page.screenshot(path=SHOT.format("error"), full_page=True)
    assert not Shortage.objects.exists()
