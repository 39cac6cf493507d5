"""Writes in the hospitals app: accounts and delivery-suite phone numbers (organisation administrators),
the care-level rules (national), and one's own alert e-mails."""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StaleVersion
from hospitals import audit, mfa
from hospitals.forms import MemberCreateForm
from hospitals.models import (
    MAX_RULE_WEEKS,
    MIN_RULE_WEEKS,
    VSV,
    AccessLog,
    AccountChange,
    CareLevelRules,
    CareLevelRulesChange,
    Location,
    LocationPhoneChange,
    Organisation,
    User,
)
from hospitals.permissions import can_set_alert_emails, can_set_location_phone, can_set_practice_vsv
from hospitals.phones import parse_dutch_phone
from hospitals.signals import location_changed


def member_create(*, form: MemberCreateForm, by: User) -> User:
    """Create an account in the administrator's own organisation from a validated form; recorded with who, when."""
    with transaction.atomic(durable=True):
        user: User = form.save(commit=False)
        user.organisation = form.organisation
        user.save()
        form.save_m2m()
        AccountChange.objects.create(account=user, action=AccountChange.Action.CREATED, by=by)
        audit.record(
            action=AccessLog.Action.ACCOUNT_CHANGE,
            what="account",
            user=by,
            object_id=user.pk,
            scope=audit.scope_of(change="created", username=user.username, role=user.role),
        )
    return user


def member_set_active(*, member: User, active: bool, by: User) -> User:
    """Deactivate or reactivate an account; recorded with who and when (nothing is recorded if it already was)."""
    with transaction.atomic(durable=True):
        locked = User.objects.select_for_update().get(pk=member.pk)
        if locked.is_active != active:
            locked.is_active = active
            locked.save(update_fields=["is_active"])
            action = AccountChange.Action.ACTIVATED if active else AccountChange.Action.DEACTIVATED
            AccountChange.objects.create(account=locked, action=action, by=by)
            audit.record(
                action=AccessLog.Action.ACCOUNT_CHANGE,
                what="account",
                user=by,
                object_id=locked.pk,
                scope=audit.scope_of(change=action.value, username=locked.username),
            )
    member.is_active = active
    return member


def member_unlock(*, member: User, by: User) -> int:
    """Lift a login lockout early: forget the account's failed attempts (django-axes) and record who
    did it. The caller checks ``can_unlock``; an address lock is not an account's and runs out itself."""
    with transaction.atomic(durable=True):
        cleared = axes_reset(username=member.get_username())
        audit.record(action=AccessLog.Action.UNLOCKED, what="account", user=by, object_id=member.pk)
    return int(cleared)


def member_reset_second_factor(*, by: User, member_id: int, request: HttpRequest | None = None) -> User:
    """Delete a member's second factor (lost phone): their authenticator app, recovery codes and every
    browser that remembered them; they set up a new one at their next login. Recorded in AccountChange
    and the access log. Raises PermissionDenied unless ``by`` may (hospitals.mfa.can_reset)."""
    with transaction.atomic(durable=True):
        member = User.objects.select_for_update().get(pk=member_id)
        if not mfa.can_reset(by, member):
            raise PermissionDenied
        mfa.forget_devices(member)
        AccountChange.objects.create(account=member, action=AccountChange.Action.MFA_RESET, by=by)
        audit.record(action=AccessLog.Action.MFA_RESET, what="account", object_id=member.pk, request=request, user=by)
    return member


def user_set_alert_emails(*, user: User, on: bool, by: User) -> User:
    """Switch alert e-mails (refusals.alerts.notify) on or off for one's own account; recorded in the
    access log with who, when, before and after (nothing is recorded if it already was so). Raises
    PermissionDenied unless ``by`` is ``user`` and receives alerts (hospitals.permissions)."""
    with transaction.atomic(durable=True):
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not can_set_alert_emails(by, locked):
            raise PermissionDenied
        before = locked.alert_emails
        if before != on:
            locked.alert_emails = on
            locked.save(update_fields=["alert_emails"])
            audit.record(
                action=AccessLog.Action.ACCOUNT_CHANGE,
                what="account",
                user=by,
                object_id=locked.pk,
                scope=audit.scope_of(change="changed", username=locked.username, alert_emails=f"{before}->{on}"),
            )
    user.alert_emails = on
    return user


def organisation_set_vsv(*, organisation_id: int, vsv_id: int | None, by: User) -> Organisation:
    """Set (or, with None, clear) a midwifery practice's VSV; one of its region's VSVs. Recorded in
    the access log with who, when, before and after; nothing is recorded if it already was so.
    Raises PermissionDenied unless ``by`` administers this practice, ValidationError for a VSV of
    another region."""
    with transaction.atomic(durable=True):
        organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
        if not (can_set_practice_vsv(by) and by.organisation_id == organisation.pk):
            raise PermissionDenied
        if vsv_id is not None and not VSV.objects.filter(pk=vsv_id, region_id=organisation.region_id).exists():
            raise ValidationError({"vsv": [_("Choose a VSV of your practice's region.")]})
        before = organisation.vsv_id
        if before != vsv_id:
            organisation.vsv_id = vsv_id
            organisation.save(update_fields=["vsv"])
            audit.record(
                action=AccessLog.Action.SETTING_CHANGE,
                what="organisation",
                user=by,
                object_id=organisation.pk,
                scope=audit.scope_of(vsv=f"{before or '-'}->{vsv_id or '-'}"),
            )
    return organisation


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


class RulesConflict(StaleVersion[CareLevelRules]):
    """Someone else changed the care-level rules since the caller looked; ``current`` is what holds now."""

    def __init__(self, current: CareLevelRules) -> None:
        super().__init__(current, f"care-level rules are at version {current.version}")


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


def location_set_phone(*, location_id: int, by: User, phone: str, expected: str | None = None) -> Location:
    """Set the delivery-suite phone number of a location ("" removes it); recorded with who, when, before, after.

    Raises PermissionDenied unless ``by`` administers the location's organisation (or is a
    national administrator), ValidationError on field "phone" for anything but a valid Dutch
    number, and PhoneConflict when the number is no longer ``expected`` (what the caller saw).
    The board rows and open search results that show the location follow after commit.
    """
    text = phone.strip()
    if text:
        try:
            parsed = parse_dutch_phone(text)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
        after, after_e164 = parsed.display, parsed.e164
    else:
        after, after_e164 = "", ""
    with transaction.atomic(durable=True):
        location = Location.objects.select_for_update().get(pk=location_id)
        if not can_set_location_phone(by, location):
            raise PermissionDenied
        if expected is not None and location.phone != expected:
            raise PhoneConflict(location)
        if (location.phone, location.phone_e164) == (after, after_e164):
            return location
        before = location.phone
        location.phone, location.phone_e164 = after, after_e164
        location.save(update_fields=["phone", "phone_e164"])
        LocationPhoneChange.objects.create(location=location, by=by, at=timezone.now(), before=before, after=after)
        location_changed.send(sender=Location, location_id=location_id)
    return location


class PhoneConflict(StaleVersion[Location]):
    """The phone number is no longer the one the caller saw; ``current`` is the location now."""

    def __init__(self, current: Location) -> None:
        super().__init__(current, f"the phone number of location {current.pk} changed meanwhile")
