"""A midwifery practice's VSV: its organisation administrator sets it (recorded), nobody else may,
and until it is set the practice counts in the VSV of the nearest location."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from hospitals.models import VSV, AccessLog, Postcode, User
from hospitals.services import organisation_set_vsv
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

URL = "/accounts/vsv/"


@pytest.fixture
def practice_admin(world: World) -> User:
    return User.objects.create_user(
        username="praktijkbeheer", password=PASSWORD, role=User.Role.ORG_ADMIN, organisation=world.practice
    )


@pytest.fixture
def vsvs(world: World) -> tuple[VSV, VSV, VSV]:
    Postcode.objects.create(
        pc4="3731", place="De Bilt", municipality="De Bilt", province="Utrecht", latitude=52.11, longitude=5.18
    )
    utrecht = VSV.objects.create(name="VSV Utrecht", region=world.region)
    zeist = VSV.objects.create(name="VSV Zeist", region=world.region)
    leiden = VSV.objects.create(name="VSV Leiden", region=world.other_region)
    world.location.vsv = utrecht
    world.location.save()
    return utrecht, zeist, leiden


def test_the_practice_admin_sees_the_default_and_sets_the_vsv(
    world: World, client_for: Any, practice_admin: User, vsvs: tuple[VSV, VSV, VSV]
) -> None:
    utrecht, zeist, leiden = vsvs
    c = client_for(practice_admin)
    page = c.get(URL)
    assert page.status_code == 200
    assert "VSV Utrecht" in page.content.decode() and page.context["is_default"]  # the nearest location's
    options = list(page.context["form"].fields["vsv"].queryset)
    assert options == [utrecht, zeist]  # the practice's region only

    before = AccessLog.objects.count()
    response = c.post(URL, {"vsv": zeist.pk})
    assert response.status_code == 302
    world.practice.refresh_from_db()
    assert world.practice.vsv_id == zeist.pk
    entry = AccessLog.objects.order_by("pk")[before:].get()
    assert (entry.action, entry.what, entry.user_id) == ("setting_change", "organisation", practice_admin.pk)
    assert f"vsv=-->{zeist.pk}" in entry.scope

    # Another region's VSV is refused on its field, and nothing changes.
    bad = c.post(URL, {"vsv": leiden.pk})
    assert bad.status_code == 400 and "vsv" in bad.context["form"].errors
    assert 'id="id_vsv-error"' in bad.content.decode()
    world.practice.refresh_from_db()
    assert world.practice.vsv_id == zeist.pk
    # Back to the default.
    assert c.post(URL, {"vsv": ""}).status_code == 302
    world.practice.refresh_from_db()
    assert world.practice.vsv_id is None


@pytest.mark.parametrize("persona", ["staff", "midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_everyone_else_is_refused(world: World, client_for: Any, persona: str, vsvs: tuple[VSV, VSV, VSV]) -> None:
    # org_admin administers a hospital: a hospital has no VSV to set here.
    c = client_for(world.personas()[persona])
    assert c.get(URL).status_code == 403
    assert c.post(URL, {"vsv": vsvs[0].pk}).status_code == 403
    world.practice.refresh_from_db()
    assert world.practice.vsv_id is None


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_service_checks_who_and_which_vsv(world: World, practice_admin: User, vsvs: tuple[VSV, VSV, VSV]) -> None:
    utrecht, _zeist, leiden = vsvs
    with pytest.raises(PermissionDenied):
        organisation_set_vsv(organisation_id=world.practice.pk, vsv_id=utrecht.pk, by=world.org_admin)
    with pytest.raises(ValidationError):
        organisation_set_vsv(organisation_id=world.practice.pk, vsv_id=leiden.pk, by=practice_admin)
    before = AccessLog.objects.count()
    organisation_set_vsv(organisation_id=world.practice.pk, vsv_id=None, by=practice_admin)  # unchanged
    assert AccessLog.objects.count() == before
