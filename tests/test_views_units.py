from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.models import CapacityEvent, Unit
from tests.conftest import World


def post_data(unit: Unit, **kw: object) -> dict[str, object]:
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


def test_staff_sees_only_their_own_units(world: World, client_for) -> None:
    response = client_for(world.staff).get(reverse("capacity:my_units"))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="unit-{world.unit.pk}"' in body and f'id="unit-{world.nicu.pk}"' in body
    assert f'id="unit-{world.other_unit.pk}"' not in body
    assert 'lang="nl"' in body and "Opslaan" in body


@pytest.mark.parametrize("persona", ["midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_other_roles_cannot_open_the_staff_page(world: World, client_for, persona: str) -> None:
    assert client_for(world.personas()[persona]).get(reverse("capacity:my_units")).status_code == 403


def test_anonymous_is_sent_to_login(client, world: World) -> None:
    for url in [reverse("capacity:my_units"), reverse("capacity:unit_update", args=[world.unit.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit))
    assert response.status_code == 302
    assert Unit.objects.get(pk=world.unit.pk).version == 1


@pytest.mark.parametrize("persona", ["other_staff", "midwife", "coordinator", "org_admin", "national_admin", "no_role"])
def test_nobody_else_can_change_a_unit(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert (
        c.post(reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit, available=0)).status_code
        == 403
    )
    assert c.post(reverse("capacity:unit_confirm", args=[world.unit.pk]), {"version": 1}).status_code == 403
    assert Unit.objects.get(pk=world.unit.pk).available == 4
    assert not CapacityEvent.objects.exists()


def test_htmx_update_returns_the_fresh_form(world: World, client_for) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]),
        post_data(world.unit, available=3),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<form id="unit-{world.unit.pk}"') and 'name="version" value="2"' in body
    unit = Unit.objects.get(pk=world.unit.pk)
    assert (unit.available, unit.version, unit.updated_by) == (3, 2, world.staff)


def test_without_javascript_update_redirects_back_with_a_message(world: World, client_for) -> None:
    c = client_for(world.staff)
    response = c.post(reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit, available=3))
    assert response.status_code == 302 and response["Location"].endswith(f"#unit-{world.unit.pk}")
    assert "Opgeslagen" in c.get(response["Location"]).content.decode()


def test_bad_input_is_a_400_with_the_error_tied_to_the_field(world: World, client_for) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]),
        post_data(world.unit, available=12),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    field_id = f"unit{world.unit.pk}-available"
    assert f'aria-describedby="{field_id}-error"' in body and f'id="{field_id}-error"' in body
    assert "kan niet meer zijn dan" in body
    assert Unit.objects.get(pk=world.unit.pk).version == 1


@pytest.mark.parametrize(
    "kw",
    [
        {"available": "veel"},
        {"version": ""},
        {"status": "stop", "available": 0},
        {"status": "stop", "stop_reason": "beds", "stop_expected_end": "gisteren"},
        {
            "status": "stop",
            "stop_reason": "beds",
            "stop_expected_end": (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    ],
)
def test_malformed_input_never_500s_and_saves_nothing(world: World, client_for, kw: dict[str, object]) -> None:
    response = client_for(world.staff).post(
        reverse("capacity:unit_update", args=[world.unit.pk]), post_data(world.unit, **kw)
    )
    assert response.status_code == 400
    assert Unit.objects.get(pk=world.unit.pk).version == 1 and not CapacityEvent.objects.exists()


def test_stale_edit_gets_409_with_the_current_state(world: World, client_for) -> None:
    c = client_for(world.staff)
    url = reverse("capacity:unit_update", args=[world.unit.pk])
    assert c.post(url, post_data(world.unit, available=1), HTTP_HX_REQUEST="true").status_code == 200
    response = c.post(url, post_data(world.unit, available=7), HTTP_HX_REQUEST="true")  # still version 1
    assert response.status_code == 409
    body = response.content.decode()
    assert "Iemand anders heeft deze afdeling gewijzigd" in body and 'name="version" value="2"' in body
    assert Unit.objects.get(pk=world.unit.pk).available == 1


def test_confirm_unchanged_in_one_tap(world: World, client_for) -> None:
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=timezone.now() - timedelta(hours=5))
    response = client_for(world.staff).post(
        reverse("capacity:unit_confirm", args=[world.unit.pk]), {"version": 1}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert not Unit.objects.get(pk=world.unit.pk).is_stale()
    assert CapacityEvent.objects.get().action == "confirm"


def test_wrong_method_is_refused(world: World, client_for) -> None:
    c = client_for(world.staff)
    assert c.get(reverse("capacity:unit_update", args=[world.unit.pk])).status_code == 405
    assert c.post(reverse("capacity:my_units")).status_code == 405


def test_unknown_unit_is_404(world: World, client_for) -> None:
    assert client_for(world.staff).post(reverse("capacity:unit_update", args=[99999]), {}).status_code == 404


def test_english_interface(world: World, client_for) -> None:
    c = client_for(world.staff)
    c.cookies["django_language"] = "en"
    body = c.get(reverse("capacity:my_units")).content.decode()
    assert 'lang="en"' in body and "Confirm unchanged" in body
