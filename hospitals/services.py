"""Writes in the hospitals app: accounts (organisation administrators) and the care-level rules (national)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hospitals.forms import MemberCreateForm
from hospitals.models import MAX_RULE_WEEKS, MIN_RULE_WEEKS, CareLevelRules, CareLevelRulesChange, User


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


def care_rules_update(
    *, by: User, nicu_below_weeks: int, high_care_below_weeks: int, term_from_weeks: int, expected_version: int | None
) -> CareLevelRules:
    """Change the care-level thresholds of the capacity search; the change is recorded with who made it.

    Raises RulesConflict when someone else changed them since the caller looked, and
    ValidationError (tied to fields) when the thresholds do not ascend within bounds.
    """
    after = {
        "nicu_below_weeks": nicu_below_weeks,
        "high_care_below_weeks": high_care_below_weeks,
        "term_from_weeks": term_from_weeks,
    }
    validate_care_rules(after)
    with transaction.atomic(durable=True):
        rules, _created = CareLevelRules.objects.select_for_update().get_or_create(pk=1)
        if expected_version is not None and rules.version != expected_version:
            raise RulesConflict(rules)
        before = rules.thresholds()
        if before == after:
            return rules
        for field, value in after.items():
            setattr(rules, field, value)
        rules.version += 1
        rules.updated_at = timezone.now()
        rules.updated_by = by
        rules.save()
        CareLevelRulesChange.objects.create(at=rules.updated_at, by=by, before=before, after=after)
    return rules


class RulesConflict(Exception):
    def __init__(self, current: CareLevelRules) -> None:
        super().__init__(f"care-level rules are at version {current.version}")
        self.current = current


def validate_care_rules(values: dict[str, int]) -> None:
    nicu, high_care, term = values["nicu_below_weeks"], values["high_care_below_weeks"], values["term_from_weeks"]
    errors: dict[str, list[str]] = {}
    if not MIN_RULE_WEEKS <= nicu <= MAX_RULE_WEEKS:
        errors["nicu_below_weeks"] = [
            _("Choose a number of weeks from %(low)s to %(high)s.") % {"low": MIN_RULE_WEEKS, "high": MAX_RULE_WEEKS}
        ]
    if high_care <= nicu:
        errors["high_care_below_weeks"] = [_("The high-care threshold must lie above the NICU threshold.")]
    if term <= high_care:
        errors["term_from_weeks"] = [_("Term must begin after the high-care threshold.")]
    elif term > MAX_RULE_WEEKS:
        errors["term_from_weeks"] = [
            _("Choose a number of weeks from %(low)s to %(high)s.") % {"low": MIN_RULE_WEEKS, "high": MAX_RULE_WEEKS}
        ]
    if errors:
        raise ValidationError(errors)
