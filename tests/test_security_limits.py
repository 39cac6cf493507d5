"""One set of limits for the staff form and the API (capacity.services.validate_change), and a message for every
rejected field, the hidden version included (docs/security.md, "Limits")."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.models import Unit
from capacity.services import MAX_BEDS, MAX_STOP_AHEAD
from tests.api_support import Api, org_token
from tests.conftest import World

pytestmark = pytest.mark.django_db


def form_data(unit: Unit, **kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": unit.version,
        "available": unit.available,
        "staffed_total": unit.staffed_total,
        "status": unit.status,
        "stop_reason": "",
        "stop_expected_end": "",
        "note": "",
    }
    data.update(kw)
    return data


def unchanged(unit: Unit) -> bool:
    return Unit.objects.get(pk=unit.pk).version == unit.version


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {
                "status": "stop",
                "stop_reason": "staff",
                "available": 0,
                "stop_end_choice": "other",
                "stop_expected_end": "9999-12-31T23:59",
            },
            "stop_expected_end",
            "at most 366 days ahead",
        ),
        ({"staffed_total": MAX_BEDS + 1, "available": 1}, "staffed_total", f"less than or equal to {MAX_BEDS}"),
        ({"available": MAX_BEDS + 1, "staffed_total": MAX_BEDS}, "available", f"less than or equal to {MAX_BEDS}"),
    ],
)
def test_the_staff_form_refuses_what_the_api_refuses_with_a_message_at_the_field(
    world: World, client_for, fields: dict[str, object], field: str, message: str
) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    response = c.post(reverse("capacity:unit_update", args=[world.unit.pk]), form_data(world.unit, **fields))
    assert response.status_code == 400
    html = response.content.decode()
    error_id = f"unit{world.unit.pk}-{field}-error"
    assert f'id="{error_id}"' in html and message in html
    assert unchanged(world.unit)


def test_the_service_refuses_more_beds_than_the_limit_for_every_caller() -> None:
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from capacity.services import CapacityChange, validate_change

    with translation.override("en"), pytest.raises(ValidationError) as error:
        validate_change(CapacityChange(staffed_total=MAX_BEDS + 1, available=0, status="open"))
    assert "at most 999" in str(error.value.message_dict["staffed_total"])


def test_the_api_refuses_the_same_stop_end_and_bed_count(world: World) -> None:
    api = Api(org_token(world.hospital, world.org_admin))
    far = (timezone.now() + MAX_STOP_AHEAD + timedelta(days=2)).isoformat()
    for body in (
        {"staffed_total": 10, "available": 0, "status": "stop", "stop_reason": "staff", "stop_expected_end": far},
        {"staffed_total": MAX_BEDS + 1, "available": 1, "status": "open"},
    ):
        response = api.client.put(
            f"/api/v1/units/{world.unit.pk}",
            json.dumps(body),
            content_type="application/json",
            headers={**api.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 422, response.content
        assert response.json()["errors"], response.content
    assert unchanged(world.unit)


def test_an_end_within_the_limit_is_accepted_by_the_form(world: World, client_for) -> None:
    end = timezone.localtime(timezone.now() + MAX_STOP_AHEAD - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    data = form_data(
        world.unit, status="stop", stop_reason="staff", available=0, stop_end_choice="other", stop_expected_end=end
    )
    response = client_for(world.staff).post(reverse("capacity:unit_update", args=[world.unit.pk]), data)
    assert response.status_code == 302
    assert Unit.objects.get(pk=world.unit.pk).status == Unit.Status.STOP


@pytest.mark.parametrize("version", ["abc", "", "0", "-3", "1.5"])
@pytest.mark.parametrize("htmx", [False, True])
def test_a_bad_hidden_version_says_what_happened(world: World, client_for, version: str, htmx: bool) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    headers = {"HX-Request": "true"} if htmx else {}
    for url, data in (
        (reverse("capacity:unit_update", args=[world.unit.pk]), form_data(world.unit, version=version)),
        (reverse("capacity:unit_confirm", args=[world.unit.pk]), {"version": version}),
    ):
        response = c.post(url, data, headers=headers)
        assert response.status_code == 400, url
        html = response.content.decode()
        assert 'role="alert"' in html and "Reload the page and try again" in html, url
    assert unchanged(world.unit)


def test_the_dutch_message_for_a_bad_version(world: World, client_for) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]), form_data(world.unit, version="x")
    )
    assert response.status_code == 400 and "Laad de pagina opnieuw" in response.content.decode()
