"""Who a connecting websocket is: its session, user and second factor, read in batches.

Channels' ``AuthMiddleware`` reads the session and then the user on the process's one database
thread, two round trips per socket, and the second-factor guard a third. In a reconnect storm
(a web process restarted: thousands of boards at once) those reads queue up one behind the other
and every board waits for all of them (docs/performance.md, "Reconnect storm"). Here the sockets
that connect while one read is running wait for the next, which reads all their sessions, users
and second-factor devices in one query each. Nothing is cached between batches: every socket is
checked against the database as it connects, exactly as before.

The rules are those of the HTTP side: a session that has expired or does not exist is anonymous;
the user must exist, be active (the backend's ``user_can_authenticate``) and match the session's
password hash; the second-factor verdict is ``hospitals.mfa.sessions_verified``. A mismatching
hash leaves the socket anonymous (4401) but, unlike Channels, does not delete the session: a
websocket only reads it, and the next page request logs the user out.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from hospitals import mfa
from hospitals.models import User

logger = logging.getLogger(__name__)

# Sessions read in one batch at most (one IN list per query).
MAX_BATCH = 500


@dataclass(frozen=True)
class Identity:
    """What one session key resolved to."""

    data: dict[str, Any] | None  # the session's contents; None: no such (unexpired) session
    user: User | None  # None: anonymous
    verified: bool  # the second factor (True when none is needed)


ANONYMOUS = Identity(None, None, True)


def _session_store_class() -> type[SessionBase]:
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def _model_backend(path: str) -> bool:
    """Whether ``path`` reads users the way ``ModelBackend.get_user`` does (then they are read in bulk)."""
    backend = load_backend(path)
    return isinstance(backend, ModelBackend) and type(backend).get_user is ModelBackend.get_user


def _user_id(data: dict[str, Any]) -> Any:
    """The session's user id, or None (none, or malformed: then the session is anonymous)."""
    if SESSION_KEY not in data:
        return None
    try:
        return User._meta.pk.to_python(data[SESSION_KEY])
    except ValidationError:
        return None


def resolve(keys: Iterable[str]) -> dict[str, Identity]:
    """Read the sessions, users and second-factor verdicts of these session keys (a few queries in all)."""
    keys = list(dict.fromkeys(keys))
    store_class = _session_store_class()
    datas: dict[str, dict[str, Any]] = {}
    model = getattr(store_class, "get_model_class", None)
    if model is not None:
        # Database sessions (the default): one query for all of them.
        rows = model().objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
        decoder = store_class()
        for key, session_data in rows.values_list("session_key", "session_data"):
            datas[key] = decoder.decode(session_data)
    else:  # another engine: its own load per key
        for key in keys:
            store = store_class(key)
            data = store.load()
            if store.session_key is not None:
                datas[key] = data

    wanted: dict[str, tuple[str, Any]] = {}  # session key -> (backend path, user id)
    for key, data in datas.items():
        backend_path = data.get(BACKEND_SESSION_KEY)
        user_id = _user_id(data)
        if user_id is not None and backend_path in settings.AUTHENTICATION_BACKENDS:
            wanted[key] = (backend_path, user_id)
    bulk_paths = {path for path, _user_id in wanted.values() if _model_backend(path)}
    bulk_ids = {user_id for path, user_id in wanted.values() if path in bulk_paths}
    users: dict[Any, User] = {user.pk: user for user in User._default_manager.filter(pk__in=bulk_ids)}

    found: dict[str, User] = {}  # session key -> its user, where the session holds one that passes
    for key, (path, user_id) in wanted.items():
        backend = load_backend(path)
        user: User | None
        if path in bulk_paths and isinstance(backend, ModelBackend):
            user = users.get(user_id)
            if user is not None and not backend.user_can_authenticate(user):
                user = None
        else:
            user = backend.get_user(user_id)
        session_hash = datas[key].get(HASH_SESSION_KEY)
        if user is not None and session_hash and constant_time_compare(session_hash, user.get_session_auth_hash()):
            found[key] = user
    verdicts = mfa.sessions_verified([(user, datas[key]) for key, user in found.items()])
    verified = dict(zip(found, verdicts, strict=True))
    return {
        key: Identity(datas[key], found.get(key), verified.get(key, True)) if key in datas else ANONYMOUS
        for key in keys
    }


class SessionBatcher:
    """Gathers the session keys of sockets connecting at the same time into one ``resolve``.

    The first socket starts a drain task; every socket that arrives while a batch is being read
    joins the next one. A batch's failure (the database is down) fails only its own sockets.
    """

    def __init__(self) -> None:
        self.batches = 0  # database rounds (for tests and the bench)
        self._pending: dict[str, list[asyncio.Future[Identity]]] = {}
        self._drain: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def identity(self, key: str | None) -> Identity:
        if not key:
            return ANONYMOUS
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a test, a server restarted in-process)
            self._loop, self._pending, self._drain = loop, {}, None
        future: asyncio.Future[Identity] = loop.create_future()
        self._pending.setdefault(key, []).append(future)
        if self._drain is None or self._drain.done():
            self._drain = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # the sockets handled in this turn of the loop join the batch
            keys = list(self._pending)[:MAX_BATCH]
            waiting = {key: self._pending.pop(key) for key in keys}
            self.batches += 1
            try:
                found = await database_sync_to_async(resolve)(keys)
            except Exception as exc:  # noqa: BLE001 - handed to the sockets that asked
                for futures in waiting.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for key, futures in waiting.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found[key])


batcher = SessionBatcher()


def _preloaded(session: Any, data: dict[str, Any] | None) -> Any:
    """The scope's session store itself (not Channels' lazy wrapper: our consumers read it often),
    holding the contents already read, so that it reads nothing itself."""
    store = getattr(session, "_wrapped", session)
    if not isinstance(store, SessionBase):
        return session
    # SessionBase's own cache of the contents (what its load() would have filled).
    cache: Any = store
    if data is None:
        store._session_key = None  # as the database backend does for a missing row
        cache._session_cache = {}
    else:
        cache._session_cache = dict(data)  # a copy: sockets of one session do not share it
    return store


class BatchedAuthMiddleware:
    """``channels.auth.AuthMiddleware`` with the reads batched (``SessionBatcher``); also sets the
    second-factor verdict in ``scope[mfa.SECOND_FACTOR_VERIFIED]``. ``scope["user"]`` is the user
    itself, not a lazy object: it is already read."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        session = scope.get("session")
        if session is None:
            raise ValueError("BatchedAuthMiddleware needs the session middleware above it")
        identity = await batcher.identity(session.session_key)
        scope = {
            **scope,
            "session": _preloaded(session, identity.data),
            # A copy per socket: sockets of one session must not share a mutable model instance.
            "user": copy.copy(identity.user) if identity.user is not None else AnonymousUser(),
            mfa.SECOND_FACTOR_VERIFIED: identity.verified,
        }
        return await self.inner(scope, receive, send)
