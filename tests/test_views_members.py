from __future__ import annotations

import pytest
from django.urls import reverse

from hospitals.models import User
from tests.conftest import World

URL = "/accounts/members/"


def new_account(**kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": "nieuw",
        "email": "nieuw@example.org",
        "role": User.Role.HOSPITAL_STAFF,
        "password1": "een-lang-wachtwoord-2026",
        "password2": "een-lang-wachtwoord-2026",
    }
    data.update(kw)
    return data


def test_org_admin_sees_only_own_organisation(world: World, client_for) -> None:
    body = client_for(world.org_admin).get(URL).content.decode()
    assert "staff" in body and "other_staff" not in body and "midwife" not in body


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "national_admin", "no_role"])
def test_other_roles_are_refused(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(URL).status_code == 403
    assert c.post(URL, new_account(locations=[world.location.pk])).status_code == 403
    assert c.post(reverse("hospitals:member_toggle", args=[world.staff.pk])).status_code == 403
    assert not User.objects.filter(username="nieuw").exists()


def test_anonymous_goes_to_login(client, world: World) -> None:
    assert client.get(URL)["Location"].startswith(reverse("login"))


def test_create_staff_account_in_own_organisation(world: World, client_for) -> None:
    response = client_for(world.org_admin).post(URL, new_account(locations=[world.location.pk]))
    assert response.status_code == 302
    user = User.objects.get(username="nieuw")
    assert (user.organisation, user.role, list(user.locations.all())) == (
        world.hospital,
        "hospital_staff",
        [world.location],
    )
    assert user.check_password("een-lang-wachtwoord-2026")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"password1": "kort", "password2": "kort"}, "password2"),
        ({"role": User.Role.NATIONAL_ADMIN}, "role"),
        ({"role": User.Role.COORDINATOR}, "role"),
        ({}, "locations"),
        ({"locations": ["999999"]}, "locations"),
    ],
)
def test_bad_input_is_refused_with_field_errors(world: World, client_for, kw: dict[str, object], field: str) -> None:
    data = new_account(**kw)
    response = client_for(world.org_admin).post(URL, data)
    assert response.status_code == 400
    assert response.context["form"].errors.get(field)
    assert not User.objects.filter(username="nieuw").exists()


def test_cannot_bind_staff_to_another_organisations_location(world: World, client_for) -> None:
    response = client_for(world.org_admin).post(URL, new_account(locations=[world.other_location.pk]))
    assert response.status_code == 400 and not User.objects.filter(username="nieuw").exists()


def test_deactivate_own_members_only(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    assert c.post(reverse("hospitals:member_toggle", args=[world.staff.pk])).status_code == 302
    world.staff.refresh_from_db()
    assert not world.staff.is_active
    assert c.post(reverse("hospitals:member_toggle", args=[world.other_staff.pk])).status_code == 404
    c.post(reverse("hospitals:member_toggle", args=[world.org_admin.pk]))
    world.org_admin.refresh_from_db()
    assert world.org_admin.is_active


def test_account_changes_record_who_did_what(world: World, client_for) -> None:
    from hospitals.models import AccountChange

    c = client_for(world.org_admin)
    c.post(URL, new_account(locations=[world.location.pk]))
    created = User.objects.get(username="nieuw")
    c.post(reverse("hospitals:member_toggle", args=[created.pk]))
    c.post(reverse("hospitals:member_toggle", args=[created.pk]))
    history = list(
        AccountChange.objects.filter(account=created).order_by("at", "id").values_list("action", "by__username")
    )
    assert history == [
        ("created", world.org_admin.username),
        ("deactivated", world.org_admin.username),
        ("activated", world.org_admin.username),
    ]
    # A refused toggle (own account) records nothing.
    c.post(reverse("hospitals:member_toggle", args=[world.org_admin.pk]))
    assert not AccountChange.objects.filter(account=world.org_admin).exists()


def test_a_kraamzorg_administrator_creates_planners_and_nothing_else(world: World, client_for, kz) -> None:
    admin = User.objects.create_user(username="kz_admin", role=User.Role.ORG_ADMIN, organisation=kz.organisation)
    client = client_for(admin)
    page = client.get(URL).content.decode()
    assert 'value="kraamzorg_planner"' in page and 'value="hospital_staff"' not in page
    refused = client.post(URL, new_account(role=User.Role.HOSPITAL_STAFF, locations=[world.location.pk]))
    assert refused.status_code == 400 and not User.objects.filter(username="nieuw").exists()
    created = client.post(URL, new_account(role=User.Role.KRAAMZORG_PLANNER))
    assert created.status_code == 302
    planner = User.objects.get(username="nieuw")
    assert (planner.organisation, planner.role, planner.locations.count()) == (kz.organisation, "kraamzorg_planner", 0)
    # A hospital's administrator cannot hand out the planner role.
    other = client_for(world.org_admin).post(URL, new_account(username="nieuw2", role=User.Role.KRAAMZORG_PLANNER))
    assert other.status_code == 400 and not User.objects.filter(username="nieuw2").exists()
