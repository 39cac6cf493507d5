from __future__ import annotations

from django.db.models import QuerySet

from hospitals.models import User
from refusals.models import Refusal


def refusals_of(user: User) -> QuerySet[Refusal]:
    """A midwife's own refusals, newest first."""
    return Refusal.objects.filter(registered_by=user).select_related("location", "outcome_location")
