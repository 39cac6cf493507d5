"""Writes of the API app: its tokens. Capacity itself is written through capacity.services."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from capacity.models import ApiToken
from core import revocation
from hospitals import audit
from hospitals.models import AccessLog, Region, User


def api_token_issue(
    *, name: str, scope: str, by: User, organisation_id: int | None = None, region_id: int | None = None
) -> tuple[ApiToken, str]:
    """A new API token for an organisation or a region; the raw secret is returned once, only its hash kept."""
    raw = ApiToken.new_raw()
    with transaction.atomic(durable=True):
        token = ApiToken.objects.create(
            name=name,
            scope=scope,
            organisation_id=organisation_id,
            region_id=region_id,
            token_hash=ApiToken.hash(raw),
            created_by=by,
        )
        region = Region.objects.filter(pk=region_id).values_list("code", flat=True).first() if region_id else None
        audit.record(
            action=AccessLog.Action.TOKEN_CREATED,
            what="api token",
            user=by,
            object_id=token.pk,
            scope=audit.scope_of(scope=scope, organisation=organisation_id, region=region, name=name),
        )
    return token, raw


def api_token_revoke(*, token_id: int, by: User) -> bool:
    """Revoke at once: the next request with it is refused. Records who revoked it and when.

    Returns whether it was still active (revoking twice keeps the first record).
    """
    with transaction.atomic():
        revoked = bool(
            ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoked_by=by
            )
        )
        if revoked:
            audit.record(action=AccessLog.Action.TOKEN_REVOKED, what="api token", user=by, object_id=token_id)
            # Its open event streams close at once, in every process (core/revocation.py).
            revocation.revoke_on_commit(
                [revocation.api_token_principal(token_id)], code=revocation.CLOSE_UNAUTHENTICATED
            )
    return revoked


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Note when a token was last used, at most once a minute (not a write per request)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < timedelta(minutes=1):
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
    ).update(last_used_at=now)
    token.last_used_at = now
