"""The API's machine event stream: JSON capacity events for a region, over a websocket or SSE.

``/api/v1/stream/?region=<code>`` (websocket) or ``/api/v1/events/?region=<code>``
(Server-Sent Events, e.g. ``curl -N``); leave out ``region`` for the whole country;
``Authorization: Bearer <token>`` like every API call. On connect the client gets a
snapshot of every location it watches, then one event per change, each a full state of
one location (never a delta): apply them by location id. The socket reuses the board's
transport (capacity/live.py): one Redis subscription per process, a writer and a bounded
queue per socket; the hub hands it the JSON rendition of each change (``JSON_FRAME``).

An organisation token with the answer-requests scope also gets its organisation's placement
requests: the snapshot lists the open ones (``requests``), and every change of one arrives as a
``request`` event with its full state (published by api/receivers.py into the same hub, to a group
per organisation and region that only such streams join). Other tokens never see a request: a
request carries the midwife's call-back number.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from api.base import (
    ApiProblem,
    authenticate_token,
    bearer_from_header,
    not_found,
    only_query,
    problem_response,
    unauthenticated,
)
from api.placements import open_requests
from api.schemas import LocationOut, RequestOut
from capacity import live
from capacity.consumers import MAX_BACKLOG, BoardConsumer
from capacity.models import ApiToken
from capacity.selectors import locations_with_units
from core.revocation import CLOSE_UNAUTHENTICATED, SINCE, api_token_principal, registry
from hospitals import audit
from hospitals.models import AccessLog, Region

# Close codes (after the handshake, so that a client can tell why). A revoked token's open
# streams are closed with 4401 at once, in every process (api.services.api_token_revoke).
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429


def request_group(organisation_id: int, region_id: int | None) -> str:
    """The hub group of one organisation's request events, for a region's stream or (None) the national one."""
    return f"requests-org-{organisation_id}" + (f"-region-{region_id}" if region_id else "")


def answering_organisation_of(token: ApiToken) -> int | None:
    """Whose placement requests this token's stream carries: its organisation's with the scope, else none."""
    return token.organisation_id if token.can_answer_requests else None


def _log_requests_followed(token: ApiToken, request: HttpRequest | None = None) -> None:
    """A stream that carries requests (with the midwife's number) in the access log, as api/placements.py logs reads."""
    audit.record(
        action=AccessLog.Action.VIEW,
        what="placement requests (API stream)",
        request=request,
        user=token.created_by,
        scope=audit.scope_of(organisation=token.organisation_id, token=token.pk),
    )


def _authenticate(raw: str) -> tuple[int | None, int | None, bool]:
    """(the token's id if valid, the organisation whose requests it follows, within its rate limit)."""
    try:
        token = authenticate_token(raw)
    except ApiProblem:
        return None, None, False
    if token is None:
        return None, None, True
    organisation_id = answering_organisation_of(token)
    if organisation_id is not None:
        _log_requests_followed(token)
    return token.pk, organisation_id, True


def _snapshot(region_id: int | None, organisation_id: int | None = None) -> str:
    rows = locations_with_units(region=region_id, obstetric_only=False)
    region = Region.objects.filter(pk=region_id).values_list("code", flat=True).first() if region_id else None
    snapshot: dict[str, object] = {
        "type": "snapshot",
        "region": region,
        "locations": [LocationOut.of(row).model_dump(mode="json") for row in rows],
    }
    if organisation_id is not None:
        snapshot["requests"] = [
            RequestOut.of(r).model_dump(mode="json") for r in open_requests(organisation_id, region_id=region_id)
        ]
    return json.dumps(snapshot)


async def _current_snapshot(region_id: int | None, organisation_id: int | None = None) -> str:
    """The snapshot, rendered again if a change was pushed meanwhile (sent after it, it would undo it)."""
    frame = ""
    for _attempt in range(3):
        seq = live.hub.seq
        frame = await database_sync_to_async(_snapshot)(region_id, organisation_id)
        if live.hub.seq == seq:
            break
    return frame


def _still_valid(token_id: int) -> bool:
    return ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).exists()


class ApiStreamConsumer(BoardConsumer):
    lang = live.JSON_FRAME
    # A revoked token's open stream is closed at once by the revocation event; this recheck
    # is the fallback should that event be lost (Redis down at the moment of revocation).
    RECHECK_SECONDS = 60.0
    token_id: int | None = None
    organisation_id: int | None = None  # whose placement requests it follows (answer-requests tokens only)
    _watch: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        headers: dict[bytes, bytes] = dict(self.scope.get("headers", []))
        raw = bearer_from_header(headers.get(b"authorization", b"").decode("latin1"))
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        code = (query.get("region") or [""])[0]
        # A revocation received from now on applies, even while the token is being checked.
        self.scope[SINCE] = time.monotonic()
        await self.accept()
        token_id, organisation_id, within_limit = (
            await database_sync_to_async(_authenticate)(raw) if raw else (None, None, True)
        )
        if not within_limit:
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        if token_id is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.token_id = token_id
        self.organisation_id = organisation_id
        if code:
            region_id = await database_sync_to_async(
                lambda: Region.objects.filter(code=code).values_list("id", flat=True).first()
            )()
            if region_id is None:
                await self.close(code=CLOSE_NOT_FOUND)
                return
            self.region_id = region_id
        self._watch = asyncio.get_running_loop().create_task(self._watch_token())
        if organisation_id is not None:
            # Before the snapshot is read (in _open), so that no request event falls in between.
            await live.hub.join([request_group(organisation_id, self.region_id)], self)
        await self._open([api_token_principal(token_id)])

    async def _watch_token(self) -> None:
        """Close the stream once its token is revoked (checked every RECHECK_SECONDS)."""
        while True:
            await asyncio.sleep(self.RECHECK_SECONDS)
            if self.token_id is None or not await database_sync_to_async(_still_valid)(self.token_id):
                live.hub.leave(self)
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return

    def _stop(self) -> None:
        super()._stop()
        if self._watch is not None and not self._watch.done() and self._watch is not asyncio.current_task():
            self._watch.cancel()

    async def resync(self) -> None:
        self.push(await _current_snapshot(self.region_id, self.organisation_id))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # push only


# --- Server-Sent Events --------------------------------------------------------------

KEEPALIVE_SECONDS = 15.0  # a comment line now and then keeps proxies from closing an idle stream
_END = ""  # queued to end a stream whose client stopped reading


class _EventQueue:
    """A hub subscriber that queues JSON frames for one SSE response."""

    lang = live.JSON_FRAME

    def __init__(self, region_id: int | None, organisation_id: int | None = None) -> None:
        self.region_id = region_id
        self.organisation_id = organisation_id
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def push(self, frame: str) -> None:
        if self.queue.qsize() >= MAX_BACKLOG:
            live.hub.leave(self)
            self.queue.put_nowait(_END)
            return
        self.queue.put_nowait(frame)

    async def resync(self) -> None:
        self.push(await _current_snapshot(self.region_id, self.organisation_id))

    def revoke(self, code: int) -> None:
        """The token was revoked (core/revocation.py): end the stream now."""
        live.hub.leave(self)
        self.queue.put_nowait(_END)


async def _events(
    region_id: int | None, token_id: int, since: float, organisation_id: int | None = None
) -> AsyncIterator[str]:
    subscriber = _EventQueue(region_id, organisation_id)
    groups = [live.region_group(region_id) if region_id else live.NATIONAL]
    if organisation_id is not None:
        groups.append(request_group(organisation_id, region_id))
    await live.hub.join(groups, subscriber)
    try:
        await registry.register(subscriber, [api_token_principal(token_id)], since=since)
        await subscriber.resync()
        last_check = time.monotonic()
        while True:
            try:
                frame = await asyncio.wait_for(subscriber.queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                frame = None
            if frame == _END:
                return
            if time.monotonic() - last_check >= ApiStreamConsumer.RECHECK_SECONDS:
                last_check = time.monotonic()
                if not await database_sync_to_async(_still_valid)(token_id):
                    return
            yield f"data: {frame}\n\n" if frame is not None else ": keepalive\n\n"
    finally:
        live.hub.leave(subscriber)
        registry.unregister(subscriber)


@login_not_required
async def events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """GET /api/v1/events/: the event stream as ``text/event-stream`` (one ``data:`` line per event)."""
    if request.method != "GET":
        return problem_response(request, ApiProblem(405, "method-not-allowed", _("Method not allowed"), _("Use GET.")))
    since = time.monotonic()  # a revocation received from now on ends the stream
    raw = bearer_from_header(request.headers.get("Authorization", ""))
    try:
        only_query(request, "region")
        # Over the rate limit: the same 429 problem, with Retry-After, as any other call.
        token = await database_sync_to_async(authenticate_token)(raw) if raw else None
    except ApiProblem as problem:
        return problem_response(request, problem)
    if token is None:
        return problem_response(request, unauthenticated())
    token_id = token.pk
    organisation_id = answering_organisation_of(token)
    region_id = None
    code = request.GET.get("region")
    if code is not None:
        region_id = await database_sync_to_async(
            lambda: Region.objects.filter(code=code[:40]).values_list("id", flat=True).first()
        )()
        if region_id is None:
            return problem_response(request, not_found(_("There is no region %(code)s.") % {"code": code[:40]}))
    if organisation_id is not None:
        await database_sync_to_async(_log_requests_followed)(token, request)
    response = StreamingHttpResponse(
        _events(region_id, token_id, since, organisation_id), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    return response
