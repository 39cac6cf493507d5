"""seed_demo: demo accounts, and their second factor with the documented demo secret only when MFA is enforced."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from capacity.management.commands.seed_demo import DEMO_LOCATION, DEMO_PASSWORD, DEMO_REGION, DEMO_TOTP_SECRET
from hospitals.models import Location, Organisation, Region, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference() -> None:
    region = Region.objects.create(code=DEMO_REGION, name="Midden-Nederland")
    hospital = Organisation.objects.create(name="UMC Utrecht", kind=Organisation.Kind.HOSPITAL, region=region)
    Location.objects.create(
        slug=DEMO_LOCATION,
        name="WKZ",
        organisation=hospital,
        region=region,
        city="Utrecht",
        latitude=52.1,
        longitude=5.2,
    )


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_enforced_gives_the_required_accounts_the_demo_secret(reference: None, settings: Settings) -> None:
    settings.MFA_ENFORCED = True
    output = seed()
    assert DEMO_TOTP_SECRET in output and "otpauth://totp/" in output
    with_device = set(TOTPDevice.objects.filter(confirmed=True).values_list("user__username", flat=True))
    assert with_device == {"coordinator", "beheerder", "praktijkbeheerder", "landelijk"}
    device = TOTPDevice.objects.get(user__username="coordinator")
    assert device.verify_token(totp(base64.b32decode(DEMO_TOTP_SECRET)))
    seed()  # again: still one device each, the same secret
    assert TOTPDevice.objects.filter(user__username="coordinator").count() == 1


def test_embedded_demo_has_no_second_factor(reference: None) -> None:
    output = seed()  # tests/conftest.py: MFA_ENFORCED off, as in the embedded demo
    assert DEMO_TOTP_SECRET not in output
    assert not TOTPDevice.objects.exists()
    assert User.objects.filter(username="coordinator").exists()


def test_the_demo_region_gets_demo_vsvs_and_a_practice_administrator(reference: None) -> None:
    seed()
    location = Location.objects.get(slug=DEMO_LOCATION)
    assert location.vsv is not None and location.vsv.name == "VSV Utrecht (demo)"
    admin = User.objects.get(username="praktijkbeheerder")
    assert admin.role == User.Role.ORG_ADMIN and admin.organisation is not None
    assert admin.organisation.kind == Organisation.Kind.MIDWIFERY_PRACTICE
    seed()  # again: nothing doubled
    assert location.vsv.locations.count() == 1


def test_the_demo_has_a_planner_of_a_synthetic_kraamzorg_organisation(reference: None) -> None:
    out = seed()
    planner = User.objects.get(username="kraamzorgplanner")
    assert planner.role == User.Role.KRAAMZORG_PLANNER and planner.check_password(DEMO_PASSWORD)
    assert planner.organisation is not None and planner.organisation.kind == Organisation.Kind.KRAAMZORG
    assert "synthetisch" in planner.organisation.name  # labelled as synthetic in the data and the UI
    assert "kraamzorgplanner" in out
    seed()  # again: nothing twice
    assert Organisation.objects.filter(kind=Organisation.Kind.KRAAMZORG).count() == 1
