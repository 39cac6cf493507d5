"""Helpers for the API tests: issue tokens, call the API with one."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from api.services import api_token_issue
from capacity.models import ApiToken
from hospitals.models import Organisation, Region, User


def org_token(organisation: Organisation, by: User, scope: str = ApiToken.Scope.WRITE_CAPACITY) -> str:
    return api_token_issue(name=f"{organisation.name} HIS", scope=scope, by=by, organisation_id=organisation.pk)[1]


def region_token(region: Region, by: User, scope: str = ApiToken.Scope.STATISTICS) -> str:
    return api_token_issue(name=f"{region.code} stats", scope=scope, by=by, region_id=region.pk)[1]


class Api:
    """A test client that sends a bearer token and JSON."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(f"/api/v1{path}", headers={**self.headers, **headers})

    def put(self, path: str, body: object, **headers: str) -> Any:
        return self.client.put(
            f"/api/v1{path}", json.dumps(body), content_type="application/json", headers={**self.headers, **headers}
        )

    def post(self, path: str, body: object = None, **headers: str) -> Any:
        data = json.dumps(body) if body is not None else ""
        return self.client.post(
            f"/api/v1{path}", data, content_type="application/json", headers={**self.headers, **headers}
        )
