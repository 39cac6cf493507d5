"""The API's machine event stream: JSON capacity events for a region over a websocket.

``/api/v1/stream/?region=<code>`` (leave out ``region`` for the whole country), with
``Authorization: Bearer <token>`` like every API call. On connect the client gets a
snapshot of every location it watches, then one event per change, each a full state of
one location (never a delta): apply them by location id. The socket reuses the board's
transport (capacity/live.py): one Redis subscription per process, a writer and a bounded
queue per socket; the hub hands it the JSON rendition of each change (``JSON_FRAME``).
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from capacity import live
from capacity.consumers import BoardConsumer
from config.api import ApiProblem, authenticate_token, bearer_from_header
from hospitals.models import Region

# Close codes (after the handshake, so that a client can tell why).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429


def _authenticate(raw: str) -> tuple[bool, bool]:
    """(valid token, within its rate limit)."""
    try:
        return authenticate_token(raw) is not None, True
    except ApiProblem:
        return True, False


def _snapshot(region_id: int | None) -> str:
    from hospitals.api import LocationOut, api_locations

    qs = api_locations()
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    region = Region.objects.filter(pk=region_id).values_list("code", flat=True).first() if region_id else None
    return json.dumps(
        {
            "type": "snapshot",
            "region": region,
            "locations": [LocationOut.of(location).model_dump(mode="json") for location in qs],
        }
    )


class ApiStreamConsumer(BoardConsumer):
    lang = live.JSON_FRAME

    async def connect(self) -> None:
        headers: dict[bytes, bytes] = dict(self.scope.get("headers", []))
        raw = bearer_from_header(headers.get(b"authorization", b"").decode("latin1"))
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        code = (query.get("region") or [""])[0]
        await self.accept()
        valid, within_limit = await database_sync_to_async(_authenticate)(raw) if raw else (False, True)
        if not valid:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not within_limit:
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        if code:
            region_id = await database_sync_to_async(
                lambda: Region.objects.filter(code=code).values_list("id", flat=True).first()
            )()
            if region_id is None:
                await self.close(code=CLOSE_NOT_FOUND)
                return
            self.region_id = region_id
        await self._start()

    async def _start(self) -> None:
        self._outbox = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())
        group = live.region_group(self.region_id) if self.region_id else live.NATIONAL
        await live.hub.join([group], self)
        await self.resync()

    async def resync(self) -> None:
        """Send a snapshot; render again if a change was pushed meanwhile (it must not be undone)."""
        frame = ""
        for _attempt in range(3):
            seq = live.hub.seq
            frame = await database_sync_to_async(_snapshot)(self.region_id)
            if live.hub.seq == seq:
                break
        self.push(frame)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # push only
