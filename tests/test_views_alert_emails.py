"""/accounts/alert-emails/: coordinators and national administrators switch their own alert e-mails."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import translation

from hospitals.models import AccessLog, User
from tests.conftest import World
from tests.test_security_access_log import admin_change_data

URL = "/accounts/alert-emails/"


def dutch(text: str) -> str:
    """What the page says in the site's language (the English msgid until the translations are merged)."""
    with translation.override("nl"):
        return translation.gettext(text)


def changes() -> list[AccessLog]:
    return list(AccessLog.objects.filter(action=AccessLog.Action.ACCOUNT_CHANGE).order_by("at", "id"))


def test_the_url() -> None:
    assert reverse("hospitals:alert_emails") == URL


@pytest.mark.parametrize("persona", ["coordinator", "national_admin"])
def test_page_shows_the_setting_with_a_labelled_checkbox(world: World, client_for, persona: str) -> None:
    response = client_for(world.personas()[persona]).get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<input type="checkbox" name="alert_emails" id="id_alert_emails" checked' in body
    assert '<label for="id_alert_emails">' in body and 'name="csrfmiddlewaretoken"' in body
    assert f"{persona}@example.org" in body  # where they go
    # Dutch by default; the header links to the page, marked as the current one.
    assert '<html lang="nl">' in body
    assert f'href="{URL}" aria-current="page"' in body


@pytest.mark.parametrize("persona", ["coordinator", "national_admin"])
def test_switch_off_and_on_again(world: World, client_for, persona: str) -> None:
    user = world.personas()[persona]
    c = client_for(user)
    response = c.post(URL, {})  # an unticked box sends nothing
    assert (response.status_code, response["Location"]) == (302, URL)
    user.refresh_from_db()
    assert user.alert_emails is False
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        dutch("Alert e-mails are off. You still see the alert banner on your pages.")
    ]
    assert " checked" not in c.get(URL).content.decode().split('name="alert_emails"')[1].split(">")[0]

    response = c.post(URL, {"alert_emails": "on"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.alert_emails is True
    assert [str(m) for m in get_messages(response.wsgi_request)] == [dutch("Alert e-mails are on.")]


def test_the_change_is_recorded_with_who_when_and_from_where(world: World, client_for) -> None:
    client_for(world.coordinator).post(URL, {}, REMOTE_ADDR="192.0.2.7")
    [entry] = changes()
    assert (entry.user, entry.username, entry.role, entry.what, entry.object_id) == (
        world.coordinator,
        "coordinator",
        "coordinator",
        "account",
        str(world.coordinator.pk),
    )
    assert entry.scope == "change=changed username=coordinator alert_emails=True->False"
    assert (entry.ip, entry.path) == ("192.0.2.7", URL)
    assert entry.at is not None
    client_for(world.coordinator).post(URL, {})  # already off: nothing changed, nothing recorded
    assert len(changes()) == 1


def test_without_an_address_the_page_says_so(world: World, client_for) -> None:
    User.objects.filter(pk=world.national_admin.pk).update(email="")
    body = client_for(world.national_admin).get(URL).content.decode()
    assert 'data-alert-emails="no-address"' in body


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_other_roles_are_refused(world: World, client_for, persona: str) -> None:
    user = world.personas()[persona]
    c = client_for(user)
    assert c.get(URL).status_code == 403
    assert c.post(URL, {}).status_code == 403
    user.refresh_from_db()
    assert user.alert_emails is True and changes() == []
    # ...and their header does not link to it.
    assert URL not in c.get("/board/").content.decode()


def test_anonymous_goes_to_login(client: Client, world: World) -> None:
    for response in (client.get(URL), client.post(URL, {})):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert changes() == []


def test_wrong_method_and_missing_csrf_are_refused(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    assert c.put(URL).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.coordinator)
    assert strict.post(URL, {}).status_code == 403
    world.coordinator.refresh_from_db()
    assert world.coordinator.alert_emails is True and changes() == []


def test_django_admin_shows_the_field_and_records_a_change(world: World) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "correct-horse-battery-staple")
    c = Client()
    c.force_login(root)
    path = f"/admin/hospitals/user/{world.coordinator.pk}/change/"
    assert 'name="alert_emails"' in c.get(path).content.decode()
    assert c.post(path, admin_change_data(root, world.coordinator, alert_emails=False)).status_code == 302
    world.coordinator.refresh_from_db()
    assert world.coordinator.alert_emails is False
    [entry] = changes()
    assert entry.username == "root" and "alert_emails=True->False" in entry.scope.split()
