"""``{% second_factor_ids people as ids %}``: which of these accounts set up a second factor (one query)."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django_otp.plugins.otp_totp.models import TOTPDevice

from hospitals.models import User

register = template.Library()


@register.simple_tag
def second_factor_ids(people: Iterable[User]) -> set[int]:
    ids = [person.pk for person in people]
    return set(TOTPDevice.objects.filter(user_id__in=ids, confirmed=True).values_list("user_id", flat=True))
