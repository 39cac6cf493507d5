"""Live push of board rows: cross Redis once per process, fan out locally.

The textbook Channels design (every socket joins a region group) costs one Redis
message per socket per update and misses the latency target by 6x at 1,000
boards (../shared/realtime.md). Instead:

* the writer renders the changed location's row once per language, right after
  commit, and publishes one message;
* every server process holds one ``Hub`` with one Redis pub/sub subscription
  (embedded mode: no Redis, the message is handed to the hub's event loop);
* the hub sends the pre-rendered frame to the sockets of that process that watch
  the location's region or the national board.

Frames are full snapshots of a row, never deltas, so a lost or repeated message
does no harm; every socket gets a full snapshot on (re)connect, and again after
the hub lost and regained Redis.

The same channel carries revocations (``{"revoke": [principals], "code": 4403}``,
core/revocation.py): every process closes its sockets that run as a revoked
principal, whatever app they belong to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import translation

from capacity.selectors import LocationUnits, RowVersion, board_location, locations_with_units, row_version
from core import metrics, revocation
from core.logs import OutageLog

logger = logging.getLogger(__name__)
# A Redis outage logs two lines, not one per failed publish or reconnect (docs/operations.md).
publish_outage = OutageLog(logger, what="Redis (live push publish)", calls="publishes")
subscription_outage = OutageLog(logger, what="Redis (live push subscription)", calls="reconnect attempts")

NATIONAL = "national"


def region_group(region_id: int) -> str:
    return f"region-{region_id}"


def location_group(location_id: int) -> str:
    """Sockets that follow one location, e.g. an open search result (search/consumers.py)."""
    return f"location-{location_id}"


class Subscriber(Protocol):
    lang: str

    def push(self, frame: str) -> None: ...

    async def resync(self) -> None: ...


# --- board snapshots ----------------------------------------------------------------------

SNAPSHOT_TTL = 30.0  # seconds a rendered row is reused; "Verouderd" is derived at render time


@dataclass
class Snapshot:
    """A board's full snapshot: its rows' markup in board order, and each row's version."""

    html: str
    rows: dict[int, tuple[RowVersion, str]]  # location id -> (version, row markup)

    def covers(self, location_id: int | None, version: RowVersion | None, frame: str) -> bool:
        """Whether a pushed row is already in this snapshot, or older than what it shows."""
        row = self.rows.get(location_id) if location_id is not None else None
        if row is None or version is None:
            return False
        return version < row[0] or (version == row[0] and frame == row[1])


@dataclass
class _Row:
    version: RowVersion
    html: str
    made_at: float  # time.monotonic() when rendered (or received from a push)


@dataclass
class _Board:
    location_ids: list[int]
    expires: float
    snapshot: Snapshot | None = None  # assembled from the rows; None after one of them changed


@dataclass
class BoardSnapshots:
    """Each board's snapshot per language, assembled from rows cached per location.

    A reconnect storm asks for the same few snapshots thousands of times while updates go on.
    So: simultaneous requests for one (board, language) share one render (single-flight); a
    row is rendered again only when its location's version changed (or after SNAPSHOT_TTL);
    and a pushed row replaces the cached one (the hub calls ``patch`` for every event), so an
    update costs no render here at all. A snapshot is assembled after every event received
    before it has been patched in, so it is never older than a row pushed before it.
    """

    renders: int = 0  # board renders (a database read each)
    row_renders: int = 0  # rows rendered by them; the others were reused
    hits: int = 0  # snapshots served without a database read
    _rows: dict[tuple[int, str], _Row] = field(default_factory=dict)
    _boards: dict[tuple[int | None, str], _Board] = field(default_factory=dict)
    _inflight: dict[tuple[int | None, str], asyncio.Task[Snapshot]] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget every row (events may have been missed, or a new event loop started)."""
        self._rows.clear()
        self._boards.clear()
        self._inflight.clear()

    async def get(self, region_id: int | None, lang: str) -> Snapshot:
        key = (region_id, lang)
        board = self._boards.get(key)
        if board is not None and time.monotonic() < board.expires:
            snapshot = self._assemble(key, board)
            if snapshot is not None:
                self.hits += 1
                metrics.SNAPSHOT_CACHE_HITS.inc()
                return snapshot
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._render(key))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._render_done(key, done))
        # Shielded: a socket that goes away mid-render must not cancel the others' render.
        return await asyncio.shield(task)

    def _render_done(self, key: tuple[int | None, str], task: asyncio.Task[Snapshot]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved, so an error nobody awaits any more is not reported as lost

    async def _render(self, key: tuple[int | None, str]) -> Snapshot:
        started = time.monotonic()
        region_id, lang = key
        self.renders += 1
        metrics.SNAPSHOT_RENDERS.inc()
        # On the shared database thread. Off it (thread_sensitive=False) the executor's threads kept
        # their pooled connections and drained the pool (found by the full test run): a faster storm
        # needs the handshake's reads cached instead (docs/performance.md).
        rendered = await database_sync_to_async(self._render_rows)(region_id, lang, started)
        expires = started + SNAPSHOT_TTL
        for location_id, version, html, made_at in rendered:
            current = self._rows.get((location_id, lang))
            # A row pushed while we read is newer, or as new (then it is the later publish).
            if (
                current is None
                or current.version < version
                or (current.version == version and current.made_at <= started)
            ):
                current = self._rows[(location_id, lang)] = _Row(version, html, made_at)
            expires = min(expires, current.made_at + SNAPSHOT_TTL)
        board = self._boards[key] = _Board([row[0] for row in rendered], expires)
        snapshot = self._assemble(key, board)
        assert snapshot is not None  # every row was just stored
        return snapshot

    def _render_rows(
        self, region_id: int | None, lang: str, started: float
    ) -> list[tuple[int, RowVersion, str, float]]:
        """One read of the board's locations and units; render only the rows whose version changed."""
        rows = locations_with_units(region=region_id)
        out = []
        with translation.override(lang):
            for row in rows:
                version = row_version(row.units)
                cached = self._rows.get((row.location.pk, lang))
                if cached is not None and cached.version == version and started - cached.made_at < SNAPSHOT_TTL:
                    out.append((row.location.pk, version, cached.html, cached.made_at))
                    continue
                self.row_renders += 1
                out.append((row.location.pk, version, render_row(row), started))
        return out

    def _assemble(self, key: tuple[int | None, str], board: _Board) -> Snapshot | None:
        if board.snapshot is None:
            lang = key[1]
            rows = {}
            for location_id in board.location_ids:
                row = self._rows.get((location_id, lang))
                if row is None:
                    return None
                rows[location_id] = (row.version, row.html)
            board.snapshot = Snapshot("".join(html for _version, html in rows.values()), rows)
        return board.snapshot

    def patch(self, location_id: int, version: RowVersion | None, frames: dict[str, str], groups: list[str]) -> None:
        """A pushed row (hub.dispatch): keep it as the location's row; boards that show it use it."""
        now = time.monotonic()
        for lang, _name in settings.LANGUAGES:
            frame = frames.get(lang)
            current = self._rows.get((location_id, lang))
            if frame is None or version is None:
                self._rows.pop((location_id, lang), None)
            elif current is None or current.version <= version:
                self._rows[(location_id, lang)] = _Row(version, str(frame), now)
        for key, board in list(self._boards.items()):
            region_id = key[0]
            if (region_group(region_id) if region_id else NATIONAL) not in groups:
                continue
            if location_id in board.location_ids and version is not None:
                board.snapshot = None  # assembled again with the new row on the next request
            else:
                # A location this board did not list (it may have joined it): read it afresh.
                del self._boards[key]


def render_row(row: LocationUnits) -> str:
    """One location's row as the board shows and the push sends it (in the active language)."""
    return render_to_string("capacity/_location.html", {"location": row.location, "units": row.units, "oob": True})


snapshots = BoardSnapshots()


class Hub:
    """Per-process registry of board sockets and the one subscription that feeds them."""

    def __init__(self) -> None:
        self.groups: dict[str, set[Subscriber]] = {}
        # Sockets waiting for their snapshot: rows pushed meanwhile wait here (newest per location).
        self._held: dict[Subscriber, dict[object, tuple[int | None, RowVersion | None, str]]] = {}
        self.seq = 0  # bumped on every event: lets snapshot caches know they are outdated
        self.loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._sync_client: redis.Redis | None = None
        self._sync_url = ""
        self._subscribed = asyncio.Event()

    @property
    def channel(self) -> str:
        return f"{settings.LIVE_PUSH_PREFIX}:events"

    # --- sockets (called on the event loop) ---------------------------------------
    async def join(self, groups: Iterable[str], subscriber: Subscriber, *, hold: bool = False) -> None:
        """Add a socket to groups; ``hold``: keep its rows back until ``release`` (its snapshot goes first)."""
        self._use_loop()
        if hold:
            self.hold(subscriber)
        for group in groups:
            self.groups.setdefault(group, set()).add(subscriber)
        await self.listen()

    def _use_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (a test, or a server restarted in-process): start afresh.
            self._reset(loop)

    async def listen(self) -> None:
        """Hold this process's subscription (started by the first socket, kept while the loop runs)."""
        self._use_loop()
        loop = asyncio.get_running_loop()
        if settings.REDIS_URL and (self._listener is None or self._listener.done()):
            self._listener = loop.create_task(self._listen())
        if settings.REDIS_URL and not self._subscribed.is_set():
            # The caller sends a snapshot next: subscribe first, so that no change
            # committed in between is missed. Redis down: go on, the resync follows.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), timeout=2.0)

    def hold(self, subscriber: Subscriber) -> None:
        """Keep rows pushed to this socket back until its snapshot is out (``release``)."""
        self._held.setdefault(subscriber, {})

    def release(self, subscriber: Subscriber, snapshot: Snapshot | None) -> None:
        """Send the snapshot first, then only the held rows it does not already show."""
        held = self._held.pop(subscriber, None) or {}
        if snapshot is not None:
            subscriber.push(snapshot.html)
        for location_id, version, frame in held.values():
            if snapshot is None or not snapshot.covers(location_id, version, frame):
                subscriber.push(frame)

    def leave(self, subscriber: Subscriber) -> None:
        self._held.pop(subscriber, None)
        for group in list(self.groups):
            members = self.groups[group]
            members.discard(subscriber)
            if not members:
                del self.groups[group]

    def _reset(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._listener is not None and not self._listener.done():
            self._listener.cancel()
        self._listener = None
        self._subscribed = asyncio.Event()
        self.groups = {}
        self._held = {}
        snapshots.clear()
        self.loop = loop

    def connection_count(self) -> int:
        return len({id(s) for members in self.groups.values() for s in members})

    # --- publishing (called from sync code, after commit) -----------------------
    def publish(self, event: dict[str, Any]) -> None:
        """Hand one event to every process. Never raises: the change is already saved."""
        try:
            if settings.REDIS_URL:
                self._redis().publish(self.channel, json.dumps(event))
                publish_outage.succeeded()
            elif (loop := self.loop) is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: loop.create_task(self.dispatch(event)))
        except redis.RedisError as exc:
            # Boards pick the change up from the snapshot they get when the hub resubscribes.
            publish_outage.failed(exc)
        except RuntimeError as exc:  # embedded mode: the event loop closed meanwhile (shutdown)
            logger.warning("live push of %s dropped: %s", event.get("location_id") or event.get("revoke"), exc)

    def _redis(self) -> redis.Redis:
        url = settings.REDIS_URL
        if self._sync_client is None or self._sync_url != url:
            self._sync_client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            self._sync_url = url
        return self._sync_client

    # --- fan-out (on the event loop) ----------------------------------------------
    async def dispatch(self, event: dict[str, Any]) -> None:
        if "revoke" in event:
            closed = revocation.registry.close(event["revoke"], int(event["code"]))
            if closed:
                logger.info("closed %d revoked socket(s) with %s", closed, event["code"])
            return
        self.seq += 1
        frames: dict[str, str] = metrics.stamp(event["frames"], event.get("published_at"))
        location_id: int | None = event.get("location_id")
        raw_version = event.get("version")
        version: RowVersion | None = (int(raw_version[0]), int(raw_version[1])) if raw_version else None
        if location_id is not None:
            snapshots.patch(location_id, version, frames, event["groups"])
        targets: set[Subscriber] = set()
        for group in event["groups"]:
            targets.update(self.groups.get(group, ()))
        if not targets:
            return
        default = frames.get(settings.LANGUAGE_CODE) or next(iter(frames.values()))
        for subscriber in targets:
            try:
                frame = frames.get(subscriber.lang, default)
                held = self._held.get(subscriber)
                if held is not None:
                    # Newest per location: rows are full snapshots, an older one is worth nothing.
                    slot: object = location_id if location_id is not None else object()
                    held.pop(slot, None)
                    held[slot] = (location_id, version, frame)
                    continue
                subscriber.push(frame)
            except Exception as exc:  # noqa: BLE001 - one bad socket must not stop the others
                logger.info("live push to one socket failed, dropping it: %r", exc)
                metrics.frame_failed()
                self.leave(subscriber)

    async def _listen(self) -> None:
        """Hold the process's one subscription; on reconnect, resync every local socket."""
        backoff = 0.5
        first = True
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL, client_name=f"{self.channel}:hub")
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                subscription_outage.succeeded()
                backoff = 0.5
                if not first:
                    self.seq += 1
                    # Events may have been missed while the subscription was down.
                    snapshots.clear()
                    await self._resync_all()
                first = False
                task = asyncio.current_task()
                while True:
                    # Poll with a timeout instead of pubsub.listen(): redis-py can swallow a
                    # cancellation while blocked in a read, which would keep a shutting-down
                    # event loop waiting forever for this task.
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if task is not None and task.cancelling():
                        raise asyncio.CancelledError
                    if message is not None and message["type"] == "message":
                        await self.dispatch(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                if isinstance(exc, redis.RedisError | OSError):
                    subscription_outage.failed(exc, "reconnecting with back-off up to 10 s")
                else:  # not an outage: a fault of ours, worth its traceback
                    logger.exception("live push subscription failed; resubscribing")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                # Bounded: a half-dead connection must not keep a shutdown (or a cancelled
                # listener) waiting forever.
                for closing in (pubsub.aclose, client.aclose):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(closing(), timeout=1.0)

    async def _resync_all(self) -> None:
        subscribers = {s for members in self.groups.values() for s in members}
        await _gather_logged(s.resync() for s in subscribers)


async def _gather_logged(coros: Iterable[Awaitable[None]]) -> None:
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            logger.info("live push to one socket failed: %r", result)


hub = Hub()
# Sockets of any app register their principals in core's registry; this process's
# subscription must run for revocations published elsewhere to reach them.
revocation.registry.listen = hub.listen


def publish_revocation(sender: object, *, principals: list[str], code: int, **kwargs: object) -> None:
    """``core.revocation.principals_revoked`` (sent after commit): close those sockets in every process."""
    hub.publish({"revoke": principals, "code": code})


# Frames are keyed by rendition: a language code for the boards' HTML rows, and further keys
# for renditions that layers above register (the API registers its JSON event under
# JSON_FRAME in api/apps.py, for its stream clients, api/stream.py). A subscriber whose
# ``lang`` is such a key receives that rendition; boards never ask for one.
JSON_FRAME = "application/json"

FrameRenderer = Callable[[LocationUnits], "str | None"]
_frame_renderers: dict[str, FrameRenderer] = {}


def register_frame_renderer(key: str, render: FrameRenderer) -> None:
    """Add a rendition of every pushed location row (``render`` returns None to send none)."""
    _frame_renderers[key] = render


def render_location_frames(location_id: int) -> tuple[int, dict[str, str]] | None:
    """One location's row once per language (an htmx out-of-band swap) and every registered rendition.

    All from one read of the location and its units.
    """
    rendered = render_location_event(location_id)
    return None if rendered is None else (rendered[0], rendered[1])


def render_location_event(location_id: int) -> tuple[int, dict[str, str], RowVersion] | None:
    """``render_location_frames`` with the row's version (``row_version``), as the push carries it."""
    row = board_location(location_id)
    if row is None:
        return None
    frames: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            frames[code] = render_row(row)
    for key, render in _frame_renderers.items():
        frame = render(row)
        if frame is not None:
            frames[key] = frame
    return row.location.region_id, frames, row_version(row.units)


# Two changes to one location, committed close together in different threads or processes,
# could otherwise publish out of order: A renders (before B's commit), B renders and
# publishes, A publishes last, and every board keeps A's older row until the next change.
# Rendering and publishing one location's row is therefore serialised: in this process by a
# lock, across processes by a PostgreSQL advisory lock. Whoever renders second has seen both
# commits, and publishes second.
_publish_lock = threading.Lock()
_ADVISORY_NAMESPACE = 0x6C6F63  # "loc": keeps our keys apart from other advisory locks


@contextlib.contextmanager
def _location_publish_lock(location_id: int) -> Iterator[None]:
    with _publish_lock:
        if connection.vendor != "postgresql":
            yield
            return
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, location_id])
            yield


def publish_location(location_id: int) -> None:
    """Push a location's current row to every board that shows it (called after commit)."""
    with _location_publish_lock(location_id):
        rendered = render_location_event(location_id)
        if rendered is None:
            return
        region_id, frames, version = rendered
        groups = [region_group(region_id), NATIONAL, location_group(location_id)]
        published_at = metrics.publish_time()
        hub.publish(
            {
                "location_id": location_id,
                "version": list(version),
                "groups": groups,
                "frames": frames,
                "published_at": published_at,
            }
        )
        metrics.observe_published()


def on_location_changed(sender: object, *, location_id: int, **kwargs: object) -> None:
    """``hospitals.signals.location_changed``: push the location's row once the change is committed."""
    transaction.on_commit(lambda: publish_location(location_id))
