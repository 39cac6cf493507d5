"""api.middleware: the API takes JSON bodies only (415) and small ones (413), both as problem+json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_django import Settings

from capacity.models import Unit
from tests.api_support import Api, org_token
from tests.conftest import World

pytestmark = pytest.mark.django_db

FIGURES = {"staffed_total": 10, "available": 3, "status": "open"}


@pytest.fixture
def writer(world: World) -> Api:
    return Api(org_token(world.hospital, world.org_admin))


def put(api: Api, path: str, data: bytes | str, content_type: str) -> Any:
    return api.client.put(f"/api/v1{path}", data, content_type=content_type, headers={**api.headers, "If-Match": '"1"'})


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/html; charset=utf-8", "application/xml"]
)
def test_a_json_body_with_another_content_type_is_415_and_changes_nothing(
    world: World, writer: Api, content_type: str
) -> None:
    response = put(writer, f"/units/{world.unit.pk}", json.dumps(FIGURES), content_type)
    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (
        body["status"] == 415
        and body["type"].endswith("unsupported-media-type")
        and "application/json" in body["detail"]
    )
    unit = Unit.objects.get(pk=world.unit.pk)
    assert (unit.available, unit.version) == (world.unit.available, 1)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_media_types_are_accepted(world: World, writer: Api, content_type: str) -> None:
    response = put(writer, f"/units/{world.unit.pk}", json.dumps(FIGURES), content_type)
    assert response.status_code == 200, response.content
    assert Unit.objects.get(pk=world.unit.pk).available == 3


def test_an_oversized_body_is_413_problem_json_and_changes_nothing(
    world: World, writer: Api, settings: Settings
) -> None:
    settings.API_MAX_BODY_BYTES = 1024
    padded = json.dumps({**FIGURES, "note": "x" * 2000})
    response = put(writer, f"/units/{world.unit.pk}", padded, "application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("body-too-large") and "1024" in response.json()["detail"]
    assert Unit.objects.get(pk=world.unit.pk).version == 1


def test_a_body_over_djangos_own_limit_is_413_too_not_an_html_400(
    world: World, writer: Api, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.API_MAX_BODY_BYTES = 10_000
    response = put(writer, f"/units/{world.unit.pk}", json.dumps({**FIGURES, "note": "y" * 500}), "application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"


def test_the_message_follows_the_language(world: World, writer: Api) -> None:
    response = writer.client.put(
        f"/api/v1/units/{world.unit.pk}",
        json.dumps(FIGURES),
        content_type="text/plain",
        headers={**writer.headers, "If-Match": '"1"', "Accept-Language": "nl"},
    )
    assert response.status_code == 415 and "Stuur" in response.json()["detail"]


def test_reads_and_pages_outside_the_api_are_not_touched(world: World, writer: Api, client_for) -> None:
    assert writer.get(f"/units/{world.unit.pk}").status_code == 200
    # A normal form post (urlencoded) outside /api/ is not an API body.
    response = client_for(world.midwife).post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
