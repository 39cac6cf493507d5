from __future__ import annotations

from django.db.models import QuerySet

from hospitals.models import User
from refusals.models import Refusal


def refusals_of(user: User) -> QuerySet[Refusal]:
    """A midwife's own refusals, newest first."""
    return Refusal.objects.filter(registered_by=user).select_related("location", "outcome_location")


def statistics_region_ids(user: object) -> list[int]:
    """Regions whose statistics and alerts this user sees: a coordinator's own, all for national admins."""
    from hospitals.models import Region
    from hospitals.permissions import can_view_statistics, has_role

    if not has_role(user):
        return []
    return [r.pk for r in Region.objects.order_by("name") if can_view_statistics(user, r)]
