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
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import translation

from capacity.selectors import LocationUnits, board_location
from core import revocation

logger = logging.getLogger(__name__)

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


class Hub:
    """Per-process registry of board sockets and the one subscription that feeds them."""

    def __init__(self) -> None:
        self.groups: dict[str, set[Subscriber]] = {}
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
    async def join(self, groups: Iterable[str], subscriber: Subscriber) -> None:
        self._use_loop()
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

    def leave(self, subscriber: Subscriber) -> None:
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
        self.loop = loop

    def connection_count(self) -> int:
        return len({id(s) for members in self.groups.values() for s in members})

    # --- publishing (called from sync code, after commit) -----------------------
    def publish(self, event: dict[str, Any]) -> None:
        """Hand one event to every process. Never raises: the change is already saved."""
        try:
            if settings.REDIS_URL:
                self._redis().publish(self.channel, json.dumps(event))
            elif (loop := self.loop) is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: loop.create_task(self.dispatch(event)))
        except (redis.RedisError, RuntimeError):
            # Boards pick the change up from the snapshot they get on reconnect.
            logger.exception("live push of %s failed", event.get("location_id") or event.get("revoke"))

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
        frames: dict[str, str] = event["frames"]
        targets: set[Subscriber] = set()
        for group in event["groups"]:
            targets.update(self.groups.get(group, ()))
        if not targets:
            return
        default = frames.get(settings.LANGUAGE_CODE) or next(iter(frames.values()))
        for subscriber in targets:
            try:
                subscriber.push(frames.get(subscriber.lang, default))
            except Exception as exc:  # noqa: BLE001 - one bad socket must not stop the others
                logger.info("live push to one socket failed, dropping it: %r", exc)
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
                backoff = 0.5
                if not first:
                    self.seq += 1
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
            except Exception:
                self._subscribed.clear()
                logger.warning("live push subscription lost; reconnecting in %.1fs", backoff, exc_info=True)
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
    row = board_location(location_id)
    if row is None:
        return None
    frames: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            frames[code] = render_to_string(
                "capacity/_location.html", {"location": row.location, "units": row.units, "oob": True}
            )
    for key, render in _frame_renderers.items():
        frame = render(row)
        if frame is not None:
            frames[key] = frame
    return row.location.region_id, frames


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
        rendered = render_location_frames(location_id)
        if rendered is None:
            return
        region_id, frames = rendered
        groups = [region_group(region_id), NATIONAL, location_group(location_id)]
        hub.publish({"location_id": location_id, "groups": groups, "frames": frames})


def on_location_changed(sender: object, *, location_id: int, **kwargs: object) -> None:
    """``hospitals.signals.location_changed``: push the location's row once the change is committed."""
    transaction.on_commit(lambda: publish_location(location_id))
