"""Django admin in the user's language: app, model and column names translated, a language switch,
and a username help text that suits an administrator creating someone else's account."""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.test import Client
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.text import camel_case_to_spaces

from hospitals.models import User
from refusals.models import Refusal
from refusals.services import RefusalInput, refusal_register
from tests.conftest import PASSWORD, World
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer, browser_log_in, browser_server

# The English source of each project app's name in the admin.
APP_NAMES = {
    "core": "Core",
    "hospitals": "Organisations and accounts",
    "capacity": "Capacity",
    "search": "Search",
    "refusals": "Refusals",
    "api": "API",
}
USERNAME_HELP = (
    "The name this person logs in with, for example j.devries. "
    "Letters, digits and . - _ @ + only; at most 150 characters."
)
DJANGO_USERNAME_HELP = "Required. 150 characters or fewer."
PROJECT_APPS = set(APP_NAMES)


def registered_project_models() -> list[type[models.Model]]:
    return [model for model in admin.site._registry if model._meta.app_label in PROJECT_APPS]


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="beheer", email="beheer@example.org", password="x")


@pytest.fixture
def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- names are lazy translations with an English source ----------------------------------------


def test_every_project_app_has_a_lazily_translated_name() -> None:
    for label, english in APP_NAMES.items():
        name = apps.get_app_config(label).verbose_name
        assert isinstance(name, Promise), label
        with translation.override("en"):
            assert str(name) == english


def test_every_registered_model_and_listed_field_has_a_lazily_translated_name() -> None:
    assert registered_project_models()
    for model in registered_project_models():
        options = model._meta
        # Explicit Meta names, not Django's made-up "refusal event" / "refusal events".
        assert isinstance(options.verbose_name, Promise), model
        assert isinstance(options.verbose_name_plural, Promise), model
        model_admin = admin.site._registry[model]
        shown = [*model_admin.list_display, *model_admin.readonly_fields, *getattr(model_admin, "state_fields", [])]
        for name in shown:
            if isinstance(name, str) and name != "__str__":
                field = options.get_field(name)
                assert isinstance(field, models.Field), f"{model.__name__}.{name}"
                assert isinstance(field.verbose_name, Promise), f"{model.__name__}.{name}"


def test_user_username_help_text_is_the_new_one() -> None:
    field = User._meta.get_field("username")
    assert isinstance(field.help_text, Promise)
    with translation.override("en"):
        assert str(field.help_text) == USERNAME_HELP


def test_compiled_catalogue_names_every_admin_model_in_dutch() -> None:
    """Reads the compiled catalogue (locale/nl/LC_MESSAGES/django.mo, as the running site does):
    every model in the admin has a Dutch name, none is Django's made-up one from the class name."""
    compiled = compiled_catalogue()
    for model in admin.site._registry:
        options = model._meta
        made_up = camel_case_to_spaces(options.object_name or "")
        with translation.override("nl"):
            dutch = (str(options.verbose_name), str(options.verbose_name_plural))
        assert made_up not in dutch and f"{made_up}s" not in dutch, model
        if options.app_label in PROJECT_APPS:  # Django's own (groups) come with Django's catalogue
            with translation.override("en"):
                english = [str(options.verbose_name), str(options.verbose_name_plural)]
            assert [msgid for msgid in english if compiled.gettext(msgid) is MISSING] == [], model


MISSING = "<not in the catalogue>"


class _Missing(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return MISSING


def compiled_catalogue() -> gettext.GNUTranslations:
    with (Path(settings.BASE_DIR) / "locale" / "nl" / "LC_MESSAGES" / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    compiled.add_fallback(_Missing())  # tells "absent" apart from "translated as itself" (VSV)
    return compiled


# --- the admin pages ----------------------------------------------------------------------------


def test_admin_index_is_dutch_by_default_with_a_switch_to_english(client: Client, superuser: User) -> None:
    client.force_login(superuser)
    body = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="nl"' in body
    # Strings whose Dutch is already compiled: the index title and app and model names.
    assert "<h1>Beheer</h1>" in body or ">Beheer<" in body
    assert "Weigeringen" in body and "Locaties" in body and "Gebruikers" in body
    # The language switch, back to this page.
    assert 'id="admin-language"' in body
    assert 'action="/i18n/setlang/"' in body
    assert 'name="next" value="/admin/"' in body
    assert 'name="language" value="en"' in body and 'name="language" value="nl"' not in body


def test_admin_index_in_english_shows_the_new_names(english: Client, superuser: User) -> None:
    english.force_login(superuser)
    body = english.get("/admin/").content.decode()
    assert '<html lang="en"' in body
    assert "Birth-care capacity – administration" in body
    assert "<title>Administration | Birth-care capacity administration</title>" in body
    for label in ("hospitals", "capacity", "refusals"):
        assert APP_NAMES[label] in body
    assert "Django administration" not in body and "Hospitals</a>" not in body
    assert 'name="language" value="nl"' in body and ">Nederlands</button>" in body


def test_the_switch_turns_the_admin_english(client: Client, superuser: User) -> None:
    client.force_login(superuser)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/refusals/"})
    assert response.status_code == 302 and response["Location"] == "/admin/refusals/"
    body = client.get("/admin/refusals/").content.decode()
    assert '<html lang="en"' in body and "Refusals" in body and "Weigeringen" not in body


def test_admin_login_page_has_the_switch(client: Client, db: None) -> None:
    body = client.get("/admin/login/").content.decode()
    assert 'id="admin-language"' in body and 'name="language" value="en"' in body


def test_refusal_history_changelist_columns_are_translated(client: Client, superuser: User, world: World) -> None:
    refusal_register(
        by=world.midwife,
        data=RefusalInput(
            occurred_at=timezone.now() - timedelta(minutes=5),
            location_id=world.location.pk,
            care_type=Refusal.CareType.OVERDRACHT,
            reason=Refusal.Reason.NO_DELIVERY_ROOM,
            outcome=Refusal.Outcome.LOCATION,
            outcome_location_id=world.other_location.pk,
            gestational_weeks=39,
            hospitals_called=2,
        ),
    )
    client.force_login(superuser)
    body = client.get("/admin/refusals/refusalevent/").content.decode()
    # Column headers from the field names, in Dutch (these words are already in the catalogue).
    for header in ("Weigering", "Actie", "Door", "Op", "Versie na"):
        assert f">{header}</a>" in body, header
    assert ">Refusal</a>" not in body and ">Version</a>" not in body


def test_unit_change_page_names_who_updated_and_confirmed(english: Client, superuser: User, world: World) -> None:
    english.force_login(superuser)
    body = english.get(f"/admin/capacity/unit/{world.unit.pk}/change/").content.decode()
    assert "Updated by:" in body and "Figures confirmed by:" in body


# --- the username help text wherever an account is created or edited ----------------------------


@pytest.mark.parametrize("path", ["/admin/hospitals/user/add/", "change"])
def test_admin_user_forms_show_the_new_username_help(english: Client, superuser: User, path: str) -> None:
    english.force_login(superuser)
    url = f"/admin/hospitals/user/{superuser.pk}/change/" if path == "change" else path
    body = english.get(url).content.decode()
    assert USERNAME_HELP in body
    assert DJANGO_USERNAME_HELP not in body


def test_members_form_shows_the_new_username_help_tied_to_the_field(english: Client, world: World) -> None:
    english.force_login(world.org_admin)
    body = english.get("/accounts/members/").content.decode()
    assert f'<small id="id_username_helptext">{USERNAME_HELP}</small>' in body
    username_input = body.split('name="username"', 1)[1].split(">", 1)[0]
    assert "id_username_helptext" in username_input  # aria-describedby: read out with the field
    assert DJANGO_USERNAME_HELP not in body


# --- in a real browser on a phone ---------------------------------------------------------------

ADMIN_SHOT = "/tmp/e2e-admin-{lang}-{width}.png"  # noqa: S108 - screenshots for a human, not a secret


@pytest.fixture
def admin_server(world: World) -> Iterator[LiveServer]:
    """One uvicorn process; a superuser who can log in. Stops before the database is flushed."""
    boss = User.objects.create_superuser(username="beheer", email="beheer@example.org", password=PASSWORD)
    with browser_server(boss, password=PASSWORD) as live:
        yield live


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_phone_switches_the_admin_to_english_and_back(
    admin_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # An English browser: the admin is Dutch all the same until the user switches.
            context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
            page = context.new_page()
            browser_log_in(page, admin_server, "beheer", PASSWORD, "/admin/")
            expect(page.locator("html")).to_have_attribute("lang", "nl")
            expect(page.get_by_role("heading", name="Beheer")).to_be_visible()
            switch = page.locator("#admin-language").get_by_role("button", name="English")
            box = switch.bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
            assert page.evaluate("document.querySelector('#header').scrollWidth <= window.innerWidth")
            page.screenshot(path=ADMIN_SHOT.format(lang="nl", width=390), full_page=True)

            switch.click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            assert page.url.endswith("/admin/")
            expect(page.get_by_role("link", name="Birth-care capacity – administration")).to_be_visible()
            expect(page.get_by_role("link", name="Organisations and accounts")).to_be_visible()
            page.screenshot(path=ADMIN_SHOT.format(lang="en", width=390), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=ADMIN_SHOT.format(lang="en", width=1280), full_page=True)

            page.locator("#admin-language").get_by_role("button", name="Nederlands").click()
            expect(page.locator("html")).to_have_attribute("lang", "nl")
            page.screenshot(path=ADMIN_SHOT.format(lang="nl", width=1280), full_page=True)
        finally:
            browser.close()
