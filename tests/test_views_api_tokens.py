from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from capacity.models import ApiToken
from tests.api_support import Api, org_token, region_token
from tests.conftest import World

URL = "/accounts/api-tokens/"


def _secret(response) -> str:
    match = re.search(r'value="(bcap_[^"]+)"', response.content.decode())
    assert match is not None
    return match.group(1)


def test_org_admin_creates_a_write_token_shown_once_that_works(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    response = c.post(URL, {"name": "HiX feed", "scope": "write-capacity"})
    assert response.status_code == 200
    raw = _secret(response)
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.organisation, token.region, token.created_by) == (
        "HiX feed",
        "write-capacity",
        world.hospital,
        None,
        world.org_admin,
    )
    assert token.token_hash == ApiToken.hash(raw) and raw not in token.token_hash
    page = c.get(URL).content.decode()
    assert raw not in page and "HiX feed" in page
    assert Api(raw).get(f"/units/{world.unit.pk}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_org_admin_cannot_pick_the_statistics_scope(world: World, client_for) -> None:
    response = client_for(world.org_admin).post(URL, {"name": "x", "scope": "statistics"})
    assert response.status_code == 400
    assert 'aria-describedby="id_scope-error"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_org_admin_sees_and_revokes_only_own_organisations_tokens(world: World, client_for) -> None:
    raw = org_token(world.hospital, world.org_admin)
    org_token(world.other_location.organisation, world.national_admin)
    own, other = ApiToken.objects.order_by("pk")
    c = client_for(world.org_admin)
    assert [t.pk for t in c.get(URL).context["tokens"]] == [own.pk]
    assert c.post(reverse("api:api_token_revoke", args=[other.pk])).status_code == 404
    assert c.post(reverse("api:api_token_revoke", args=[own.pk])).status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None and other.revoked_at is None
    assert Api(raw).get("/regions").status_code == 401


def test_coordinator_creates_a_statistics_token_for_own_region_only(world: World, client_for) -> None:
    c = client_for(world.coordinator)
    response = c.post(URL, {"name": "Dashboard ROAZ", "scope": "statistics", "region": world.region.pk})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert (token.region, token.organisation, token.scope) == (world.region, None, "statistics")
    refused = c.post(URL, {"name": "x", "scope": "statistics", "region": world.other_region.pk})
    assert refused.status_code == 400 and ApiToken.objects.count() == 1
    assert c.post(URL, {"name": "x", "scope": "write-capacity", "region": world.region.pk}).status_code == 400


def test_coordinator_cannot_revoke_another_regions_token(world: World, client_for) -> None:
    region_token(world.other_region, world.national_admin)
    token = ApiToken.objects.get()
    assert client_for(world.coordinator).post(reverse("api:api_token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_national_admin_issues_region_tokens_for_any_region(world: World, client_for) -> None:
    response = client_for(world.national_admin).post(
        URL, {"name": "LNAZ", "scope": "read", "region": world.other_region.pk}
    )
    assert response.status_code == 200 and ApiToken.objects.get().region == world.other_region


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "no_role"])
def test_other_roles_are_refused(world: World, client_for, persona: str) -> None:
    org_token(world.hospital, world.org_admin)
    token = ApiToken.objects.get()
    c = client_for(world.personas()[persona])
    assert c.get(URL).status_code == 403
    assert c.post(URL, {"name": "x", "scope": "read"}).status_code == 403
    assert c.post(reverse("api:api_token_revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().revoked_at is None


def test_anonymous_goes_to_login(client: Client, world: World) -> None:
    assert client.get(URL)["Location"].startswith(reverse("login"))


def test_an_organisation_without_locations_gets_read_tokens_only(world: World, client_for) -> None:
    from hospitals.models import User

    admin = User.objects.create_user(
        username="practice_admin", password="x" * 16, role=User.Role.ORG_ADMIN, organisation=world.practice
    )
    c = client_for(admin)
    assert c.post(URL, {"name": "x", "scope": "write-capacity"}).status_code == 400
    assert c.post(URL, {"name": "x", "scope": "answer-requests"}).status_code == 400  # nobody asks it for a place
    assert c.post(URL, {"name": "Praktijksysteem", "scope": "read"}).status_code == 200
    assert ApiToken.objects.get().scope == "read"


def test_revoking_records_who_and_when_once(world: World, client_for) -> None:
    org_token(world.hospital, world.org_admin)
    token = ApiToken.objects.get()
    client_for(world.org_admin).post(reverse("api:api_token_revoke", args=[token.pk]))
    token.refresh_from_db()
    first = token.revoked_at
    assert first is not None and token.revoked_by == world.org_admin
    client_for(world.org_admin).post(reverse("api:api_token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by) == (first, world.org_admin)


def test_org_admin_issues_an_answer_requests_token_that_only_an_organisation_may_hold(world: World, client_for) -> None:
    c = client_for(world.org_admin)
    assert 'value="answer-requests"' in c.get(URL).content.decode()
    assert c.post(URL, {"name": "Verloskamer HIS", "scope": "answer-requests"}).status_code == 200
    token = ApiToken.objects.get()
    assert (token.scope, token.organisation, token.can_answer_requests, token.can_write_capacity) == (
        "answer-requests",
        world.hospital,
        True,
        False,
    )
    # A coordinator's region token cannot have it: requests carry the midwife's number.
    coordinator = client_for(world.coordinator)
    assert 'value="answer-requests"' not in coordinator.get(URL).content.decode()
    refused = coordinator.post(URL, {"name": "x", "scope": "answer-requests", "region": world.region.pk})
    assert refused.status_code == 400 and ApiToken.objects.count() == 1


def test_the_database_refuses_an_answer_requests_region_token(world: World) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            name="x", scope="answer-requests", region=world.region, token_hash="0" * 64, created_by=world.coordinator
        )


def test_a_kraamzorg_administrator_issues_read_and_write_intake_tokens_only(world: World, client_for) -> None:
    from hospitals.models import User

    admin = User.objects.create_user(username="kz_admin", role=User.Role.ORG_ADMIN, organisation=world.kraamzorg)
    c = client_for(admin)
    page = c.get(URL).content.decode()
    assert 'value="write-intake"' in page and 'value="read"' in page
    assert 'value="write-capacity"' not in page and 'value="answer-requests"' not in page
    c.cookies["django_language"] = "en"
    assert "your planning system" in c.get(URL).content.decode()
    for scope in ("write-capacity", "answer-requests", "statistics"):
        assert c.post(URL, {"name": "x", "scope": scope}).status_code == 400
    assert c.post(URL, {"name": "Planningssysteem", "scope": "write-intake"}).status_code == 200
    token = ApiToken.objects.get()
    assert (token.scope, token.organisation, token.can_write_intake, token.can_write_capacity) == (
        "write-intake",
        world.kraamzorg,
        True,
        False,
    )


def test_hospitals_and_regions_cannot_issue_write_intake_tokens(world: World, client_for) -> None:
    admin = client_for(world.org_admin)
    assert 'value="write-intake"' not in admin.get(URL).content.decode()
    assert admin.post(URL, {"name": "x", "scope": "write-intake"}).status_code == 400
    coordinator = client_for(world.coordinator)
    refused = coordinator.post(URL, {"name": "x", "scope": "write-intake", "region": world.region.pk})
    assert refused.status_code == 400 and not ApiToken.objects.exists()


def test_the_database_refuses_a_write_intake_region_token(world: World) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            name="x", scope="write-intake", region=world.region, token_hash="0" * 64, created_by=world.coordinator
        )
