"""The event stream as Server-Sent Events, through the real ASGI handler and the Redis hub."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from pytest_django import Settings

from api.services import api_token_revoke
from capacity.models import ApiToken
from config.asgi import application
from tests.api_support import org_token
from tests.conftest import World
from tests.test_api_stream import update

pytestmark = pytest.mark.django_db(transaction=True)


class Sse:
    """Drive one HTTP request through the ASGI app and read its streamed body."""

    def __init__(self, path: str, query: str, token: str | None) -> None:
        headers = [(b"host", b"testserver")]
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> dict[str, Any]:
        await self.inbox.put({"type": "http.request", "body": b"", "more_body": False})
        self.task = asyncio.create_task(application(self.scope, self.inbox.get, self.outbox.put))
        return await asyncio.wait_for(self.outbox.get(), timeout=5)

    async def chunk(self) -> bytes:
        while True:
            message = await asyncio.wait_for(self.outbox.get(), timeout=5)
            if message.get("body"):
                return bytes(message["body"])
            if not message.get("more_body", False):
                return b""

    async def event(self) -> dict[str, Any]:
        text = (await self.chunk()).decode()
        assert text.startswith("data: ") and text.endswith("\n\n"), text
        return dict(json.loads(text[len("data: ") :]))

    async def close(self) -> None:
        await self.inbox.put({"type": "http.disconnect"})
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=5)


async def test_snapshot_then_events_as_text_event_stream(world: World) -> None:
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin, ApiToken.Scope.READ)
    sse = Sse("/api/v1/events/", f"region={world.region.code}", raw)
    start = await sse.start()
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream") in [(k.lower(), v) for k, v in start["headers"]]
    snapshot = await sse.event()
    assert snapshot["type"] == "snapshot" and {loc["slug"] for loc in snapshot["locations"]} == {"wkz", "diak"}
    await update(world, world.unit, 5)
    event = await sse.event()
    assert event["type"] == "location" and event["location"]["slug"] == "wkz"
    await sse.close()
    from capacity import live

    assert live.hub.connection_count() == 0  # the subscriber left the hub when the client went away


@pytest.mark.parametrize(("query", "status"), [("region=nowhere", 404), ("regoin=midden", 422)])
async def test_bad_queries_are_problems(world: World, query: str, status: int) -> None:
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    sse = Sse("/api/v1/events/", query, raw)
    start = await sse.start()
    assert start["status"] == status
    assert (b"content-type", b"application/problem+json") in [(k.lower(), v) for k, v in start["headers"]]


async def test_unknown_query_parameter_points_at_it(world: World) -> None:
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    sse = Sse("/api/v1/events/", "regoin=midden", raw)
    assert (await sse.start())["status"] == 422
    problem = json.loads(await sse.chunk())
    assert [e["pointer"] for e in problem["errors"]] == ["/regoin"]


async def test_over_the_rate_limit_429_with_retry_after(world: World, settings: Settings) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    first = Sse("/api/v1/events/", "", raw)
    assert (await first.start())["status"] == 200
    await first.close()
    start = await Sse("/api/v1/events/", "", raw).start()
    assert start["status"] == 429
    headers = {k.lower(): v for k, v in start["headers"]}
    assert int(headers[b"retry-after"]) >= 1


@pytest.mark.parametrize("token", ["none", "unknown", "revoked"])
async def test_without_a_valid_token_401(world: World, token: str) -> None:
    raw = {"none": None, "unknown": "bcap_unknown"}.get(token)
    if token == "revoked":

        def revoked() -> str:
            secret = org_token(world.hospital, world.org_admin)
            api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)
            return secret

        raw = await database_sync_to_async(revoked)()
    start = await Sse("/api/v1/events/", "", raw).start()
    assert start["status"] == 401


async def test_keepalives_and_a_revoked_token_ends_the_stream(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from api import stream as api_stream

    monkeypatch.setattr(api_stream, "KEEPALIVE_SECONDS", 0.1)
    monkeypatch.setattr(api_stream.ApiStreamConsumer, "RECHECK_SECONDS", 0.3)
    raw = await database_sync_to_async(org_token)(world.hospital, world.org_admin)
    sse = Sse("/api/v1/events/", "", raw)
    assert (await sse.start())["status"] == 200
    await sse.event()
    assert await sse.chunk() == b": keepalive\n\n"

    def revoke() -> None:
        api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)

    await database_sync_to_async(revoke)()
    while (chunk := await sse.chunk()) == b": keepalive\n\n":
        pass
    assert chunk == b""  # the response ended
    await sse.close()
