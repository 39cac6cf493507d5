"""Setting up the second factor on a phone (390 x 844, touch, Dutch), in a real headless Chromium:
a coordinator in production mode logs in, scans (here: reads) the QR page's key, is refused a wrong
code with the message tied to the field, confirms with the right one, sees ten recovery codes and
reaches the board. Elements are found by ids and data- attributes, not by the (new) wording.
Screenshots go to /tmp/e2e-mfa-*.png for a human to look at.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from hospitals.models import AccessLog
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server
from tests.test_accessibility import AXE, AXE_OPTIONS, FAILING_IMPACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE: Any = {"width": 390, "height": 844}  # a ViewportSize
SHOT = "/tmp/e2e-mfa-{}.png"  # noqa: S108 - a screenshot for a human, not a secret


@pytest.fixture
def server(world: World, settings: Settings) -> Iterator[LiveServer]:
    """One uvicorn process in production mode (MFA_ENFORCED passes to it, tests/live_server.py)."""
    settings.MFA_ENFORCED = True
    with browser_server(world.coordinator, password=PASSWORD) as live:
        yield live


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (tests/test_accessibility.py's options)."""
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in FAILING_IMPACTS]


def code_for(secret: str, later: int = 0) -> str:
    key = base64.b32decode(secret.replace(" ", ""))
    return f"{totp(key, step=30, t0=0, digits=6, drift=later):06d}"


def test_coordinator_enrols_on_a_phone_in_dutch(
    world: World, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM calls below are plain sync
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="nl-NL", timezone_id="Europe/Amsterdam", viewport=PHONE, is_mobile=True, has_touch=True
            )
            context.add_init_script(script=AXE.read_text())
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
            browser_log_in(page, server, "coordinator", PASSWORD)

            # The password alone leads to the set-up page, in Dutch.
            page.wait_for_url(lambda url: "/accounts/second-factor/set-up/" in url)
            assert page.locator("html").get_attribute("lang") == "nl"
            qr = page.locator("[data-qr] svg")
            expect(qr).to_be_visible()
            box = qr.bounding_box()
            assert box is not None and box["width"] >= 150
            secret = page.locator("[data-secret]").inner_text().strip()
            page.screenshot(path=SHOT.format("setup"), full_page=True)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            confirm = page.locator("#mfa-confirm")
            button = confirm.bounding_box()
            assert button is not None and button["height"] >= 44
            field = page.locator("#id_code")
            field_box = field.bounding_box()
            assert field_box is not None and field_box["height"] >= 44
            expect(page.locator("label[for=id_code]")).to_be_visible()

            # A wrong code: refused, the message tied to the field.
            right = code_for(secret)
            field.fill(f"{(int(right) + 1) % 1_000_000:06d}")
            confirm.tap()
            page.locator("#id_code-error").wait_for()
            assert field.get_attribute("aria-invalid") == "true"
            assert "id_code-error" in (field.get_attribute("aria-describedby") or "")
            page.screenshot(path=SHOT.format("wrong"), full_page=True)
            assert not serious_violations(page)

            time.sleep(1.2)  # django-otp waits a second after a wrong code
            page.locator("#id_code").fill(code_for(secret))
            page.locator("#mfa-confirm").tap()
            page.wait_for_url(lambda url: "/accounts/second-factor/recovery-codes/" in url)
            assert page.locator("#recovery-codes li").count() == 10
            assert not serious_violations(page)
            page.screenshot(path=SHOT.format("recovery"), full_page=True)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            stored = page.locator("#mfa-stored")
            stored_box = stored.bounding_box()
            assert stored_box is not None and stored_box["height"] >= 44
            stored.tap()
            page.wait_for_url(lambda url: "/board/" in url)
            assert "/accounts/second-factor/" not in page.url
        finally:
            browser.close()
    assert not errors, f"{errors}\n{server.log_tail()}"
    assert TOTPDevice.objects.filter(user=world.coordinator, confirmed=True).count() == 1
    assert AccessLog.objects.filter(action=AccessLog.Action.MFA_ENROLLED, user=world.coordinator).count() == 1
    assert AccessLog.objects.filter(action=AccessLog.Action.MFA_FAILED, user=world.coordinator).count() == 1
