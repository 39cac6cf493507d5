"""Alert banners on coordinators' pages, and acknowledging them: who may, what is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from hospitals.models import User
from refusals.models import Alert
from tests.conftest import World


@pytest.fixture
def alert(world: World) -> Alert:
    return Alert.objects.create(
        kind=Alert.Kind.LOCATION_SPIKE,
        key=f"spike:location:{world.location.pk}",
        region=world.region,
        location=world.location,
        count=4,
        detail={"refusals": [], "threshold": 3, "window_hours": 6},
    )


def url(alert: Alert) -> str:
    return f"/alerts/{alert.pk}/acknowledge/"


def test_banner_on_every_page_of_the_regions_coordinator(world: World, client_for, alert: Alert) -> None:
    body = client_for(world.coordinator).get("/board/").content.decode()
    assert f'id="alert-{alert.pk}"' in body and "4 weigeringen door WKZ Utrecht binnen 6 uur" in body
    assert 'ws-connect="/ws/alerts/?lang=nl"' in body and f'action="{url(alert)}"' in body


def test_national_admin_sees_it_too(world: World, client_for, alert: Alert) -> None:
    assert f'id="alert-{alert.pk}"' in client_for(world.national_admin).get("/board/").content.decode()


@pytest.mark.parametrize("persona", ["staff", "midwife", "org_admin", "no_role"])
def test_no_banner_nor_alert_socket_for_others(world: World, client_for, alert: Alert, persona: str) -> None:
    body = client_for(world.personas()[persona]).get("/").content.decode()
    assert f'id="alert-{alert.pk}"' not in body and "/ws/alerts/" not in body


def test_not_for_another_regions_coordinator(world: World, client_for, alert: Alert) -> None:
    west = User.objects.create_user(username="west", password="x" * 14, role="coordinator", region=world.other_region)
    c = client_for(west)
    assert f'id="alert-{alert.pk}"' not in c.get("/board/").content.decode()
    assert c.post(url(alert)).status_code == 403
    assert Alert.objects.get().acknowledged_at is None


def test_old_alerts_leave_the_banner(world: World, client_for, alert: Alert) -> None:
    Alert.objects.update(raised_at=timezone.now() - timedelta(hours=25))
    assert f'id="alert-{alert.pk}"' not in client_for(world.coordinator).get("/board/").content.decode()


def test_coordinator_acknowledges_once_and_it_is_attributed(world: World, client_for, alert: Alert) -> None:
    c = client_for(world.coordinator)
    response = c.post(url(alert), {"next": "/board/"})
    assert response.status_code == 302 and response["Location"] == "/board/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == world.coordinator and alert.acknowledged_at is not None
    first = alert.acknowledged_at
    c.post(url(alert))  # again, or by someone else: the first acknowledgement stands
    client_for(world.national_admin).post(url(alert))
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledged_at) == (world.coordinator, first)
    assert f'id="alert-{alert.pk}"' not in c.get("/board/").content.decode()


def test_acknowledge_with_htmx_returns_the_regions_banner(world: World, client_for, alert: Alert) -> None:
    other = Alert.objects.create(kind="region_stops", key="stops:region:x", region=world.region, count=2)
    response = client_for(world.coordinator).post(url(alert), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.startswith(f'<div id="alert-region-{world.region.pk}"')
    assert f'id="alert-{other.pk}"' in body and f'id="alert-{alert.pk}"' not in body


def test_foreign_next_is_not_followed(world: World, client_for, alert: Alert) -> None:
    response = client_for(world.coordinator).post(url(alert), {"next": "https://evil.example/"})
    assert response["Location"] == "/statistics/midden/"


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
def test_others_may_not_acknowledge(world: World, client_for, alert: Alert, persona: str) -> None:
    assert client_for(world.personas()[persona]).post(url(alert)).status_code == 403
    assert Alert.objects.get().acknowledged_at is None


def test_anonymous_goes_to_login_and_get_is_refused(world: World, client: Client, client_for, alert: Alert) -> None:
    response = client.post(url(alert))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client_for(world.coordinator).get(url(alert)).status_code == 405
    assert client_for(world.coordinator).post("/alerts/999999/acknowledge/").status_code == 404


def test_banner_regions_follow_the_statistics_rule(world: World) -> None:
    from hospitals.models import Region
    from hospitals.permissions import can_view_statistics
    from refusals.selectors import statistics_region_ids

    for user in world.personas().values():
        expected = [r.pk for r in Region.objects.order_by("name") if can_view_statistics(user, r)]
        assert statistics_region_ids(user) == expected, user.username
    assert statistics_region_ids(world.coordinator) == [world.region.pk]
    assert len(statistics_region_ids(world.national_admin)) == 2


def test_banner_costs_midwives_no_query(
    world: World, client_for, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = world.midwife
    with django_assert_max_num_queries(0):
        assert (
            Template("{% load refusal_alerts %}{% alert_banners %}").render(Context({"request": request})).strip() == ""
        )
