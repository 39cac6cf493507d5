"""The OpenAPI schema and the browsable docs: served by the app, assets from our static files."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.test import Client

from tests.api_support import org_token
from tests.conftest import World


def test_docs_page_loads_swagger_from_static_files_not_a_cdn(world: World, client_for) -> None:
    response = client_for(world.midwife).get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert finders.find("ninja/swagger-ui-bundle.js") and finders.find("ninja/swagger-ui.css")


def test_schema_for_a_token_or_a_session(world: World, client_for) -> None:
    raw = org_token(world.hospital, world.org_admin)
    response = Client().get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.") and "/api/v1/locations/{location_id}/units" in schema["paths"]
    problem = schema["paths"]["/api/v1/units/{unit_id}"]["put"]["responses"]["409"]["content"]
    assert "application/problem+json" in problem
    assert client_for(world.coordinator).get("/api/v1/openapi.json").status_code == 200


def test_anonymous_gets_no_docs_or_schema(world: World, client: Client) -> None:
    assert client.get("/api/v1/docs")["Location"].startswith("/accounts/login/")
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer bcap_wrong"}).status_code == 401


def test_no_role_account_gets_no_docs(world: World, client_for) -> None:
    assert client_for(world.no_role).get("/api/v1/docs").status_code == 403
