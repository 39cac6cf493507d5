"""What ends a user's open sockets, however the change is made (services, Django admin, shell).

Connected in capacity/apps.py; hospitals cannot import the push hub, so the receivers live
here. Wall-screen links and API tokens are revoked by their services
(``capacity.services.board_token_revoke``, ``api.services.api_token_revoke``), which call
``core.revocation.revoke_on_commit`` themselves: they write with ``update()``, which sends no
signal.

* a change of role or binding (role, organisation, region, locations, active or superuser
  flag) closes every socket of that user with 4403; the pages do not reconnect
  by themselves, and a reload gets what the new role allows;
* a password change or a deleted account closes them with 4401 (log in again);
* a logout closes that session's sockets with 4401; the user's other sessions stay open.
"""

from __future__ import annotations

import weakref
from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from core.revocation import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    principals_revoked,
    revoke_on_commit,
    session_principal,
    user_principal,
)
from hospitals.models import User

# What a socket's permission depends on: a change closes the user's sockets with 4403.
ACCESS_FIELDS = ("role", "organisation_id", "region_id", "is_active", "is_superuser")
# A new password ends every session but the one that changed it: 4401 (the page reloads).
CREDENTIAL_FIELDS = ("password",)

# The close code decided in pre_save, applied in post_save (only a save that happened revokes).
_pending: weakref.WeakKeyDictionary[User, int] = weakref.WeakKeyDictionary()


def _watched(update_fields: frozenset[str] | None) -> tuple[str, ...]:
    fields = ACCESS_FIELDS + CREDENTIAL_FIELDS
    if update_fields is None:
        return fields
    # update_fields names fields ("organisation"), the row has columns ("organisation_id").
    return tuple(f for f in fields if f in update_fields or f.removesuffix("_id") in update_fields)


def user_pre_save(sender: type[User], instance: User, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    fields = _watched(kwargs.get("update_fields"))
    if not fields:
        return  # e.g. the last_login update on every login
    before = User.objects.filter(pk=instance.pk).values(*fields).first()
    if before is None:
        return
    changed = {f for f in fields if before[f] != getattr(instance, f)}
    if changed & set(ACCESS_FIELDS):
        _pending[instance] = CLOSE_FORBIDDEN
    elif changed:
        _pending[instance] = CLOSE_UNAUTHENTICATED


def user_post_save(sender: type[User], instance: User, created: bool = False, **kwargs: Any) -> None:
    code = _pending.pop(instance, None)
    if code is not None:
        revoke_on_commit([user_principal(instance.pk)], code=code)


def user_post_delete(sender: type[User], instance: User, **kwargs: Any) -> None:
    revoke_on_commit([user_principal(instance.pk)], code=CLOSE_UNAUTHENTICATED)


def user_locations_changed(
    sender: type[Any], instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """Hospital staff's locations changed (from either side of the relation)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if action == "pre_clear":
        # Before the rows go: who loses locations is read now (revoked only if it commits).
        if reverse:
            user_ids = list(instance.staff.values_list("pk", flat=True))
        else:
            user_ids = [instance.pk] if instance.locations.exists() else []
    elif not pk_set:
        return  # nothing was added or removed
    else:
        user_ids = [instance.pk] if not reverse else sorted(pk_set)
    revoke_on_commit([user_principal(pk) for pk in user_ids], code=CLOSE_FORBIDDEN)


def session_logged_out(sender: object, request: HttpRequest | None = None, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        revoke_on_commit([session_principal(key)], code=CLOSE_UNAUTHENTICATED)


def connect() -> None:
    """Connect the receivers (capacity/apps.py) and the publisher that carries revocations to every process."""
    from capacity import live

    principals_revoked.connect(live.publish_revocation, dispatch_uid="capacity-revoke-publish")
    pre_save.connect(user_pre_save, sender=User, dispatch_uid="capacity-revoke-user-pre")
    post_save.connect(user_post_save, sender=User, dispatch_uid="capacity-revoke-user-post")
    post_delete.connect(user_post_delete, sender=User, dispatch_uid="capacity-revoke-user-delete")
    m2m_changed.connect(user_locations_changed, sender=User.locations.through, dispatch_uid="capacity-revoke-locs")
    user_logged_out.connect(session_logged_out, dispatch_uid="capacity-revoke-logout")
