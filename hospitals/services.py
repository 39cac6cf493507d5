"""Account writes by organisation administrators."""

from __future__ import annotations

from django.db import transaction

from hospitals.forms import MemberCreateForm
from hospitals.models import User


def member_create(*, form: MemberCreateForm, by: User) -> User:
    """Create an account in the administrator's own organisation from a validated form."""
    with transaction.atomic(durable=True):
        user: User = form.save(commit=False)
        user.organisation = form.organisation
        user.save()
        form.save_m2m()
    return user


def member_set_active(*, member: User, active: bool, by: User) -> User:
    member.is_active = active
    member.save(update_fields=["is_active"])
    return member
