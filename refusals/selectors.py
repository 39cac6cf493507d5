from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from hospitals.models import Region, User
from hospitals.permissions import has_role
from refusals.models import Refusal


def refusals_of(user: User) -> QuerySet[Refusal]:
    """A midwife's own refusals, newest first."""
    return Refusal.objects.filter(registered_by=user).select_related("location", "outcome_location")


def statistics_region_ids(user: object) -> list[int]:
    """Regions whose statistics and alerts this user sees: a coordinator's own, all for national admins.

    The same rule as ``can_view_statistics``, answered without a query for everyone else: the
    alert banner asks on every page.
    """
    if not has_role(user):
        return []
    u: Any = user
    if u.role == User.Role.NATIONAL_ADMIN or u.is_superuser:
        return list(Region.objects.order_by("name").values_list("id", flat=True))
    if u.role == User.Role.COORDINATOR and u.region_id is not None:
        return [u.region_id]
    return []
