"""Who may do what. Views, consumers and tasks ask here, so the rules live in one place."""

from __future__ import annotations

from typing import Any, Protocol

from hospitals.models import Location, Region, User


def has_role(user: Any) -> bool:
    """Signed in, active and given a role by an administrator (or a superuser)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.role) or bool(user.is_superuser)


def can_view_board(user: Any) -> bool:
    # Capacity is shared among every signed-up organisation, as on the national
    # platform: a midwife near a border needs the neighbouring region too.
    return has_role(user)


def is_hospital_staff(user: Any) -> bool:
    return has_role(user) and user.role == User.Role.HOSPITAL_STAFF


class AtLocation(Protocol):
    """Anything kept at one location: a capacity unit (hospitals does not import capacity)."""

    @property
    def location_id(self) -> int: ...


def can_edit_unit(user: Any, unit: AtLocation) -> bool:
    """Hospital staff change only the units of their own locations."""
    return is_hospital_staff(user) and user.locations.filter(pk=unit.location_id).exists()


def is_org_admin(user: Any) -> bool:
    """Organisation administrators manage the accounts of their own organisation only."""
    return has_role(user) and user.role == User.Role.ORG_ADMIN and user.organisation_id is not None


def screen_regions(user: Any) -> Any:
    """Regions whose wall-screen links this user manages: a coordinator's own, or all for national admins."""
    if not has_role(user):
        return Region.objects.none()
    if user.role == User.Role.NATIONAL_ADMIN or user.is_superuser:
        return Region.objects.all()
    if user.role == User.Role.COORDINATOR and user.region_id is not None:
        return Region.objects.filter(pk=user.region_id)
    return Region.objects.none()


def is_midwife(user: Any) -> bool:
    return has_role(user) and user.role == User.Role.MIDWIFE


def can_plan_intake(user: Any, organisation_id: int) -> bool:
    """Kraamzorg planners keep the intake weeks of their own organisation only."""
    return (
        has_role(user)
        and user.role == User.Role.KRAAMZORG_PLANNER
        and user.organisation_id is not None
        and user.organisation_id == organisation_id
    )


class IntakeToken(Protocol):
    """An API token as the intake rules see it (hospitals does not import capacity)."""

    @property
    def pk(self) -> Any: ...

    @property
    def organisation_id(self) -> int | None: ...

    @property
    def can_write_intake(self) -> bool: ...


def can_plan_intake_by_token(token: IntakeToken, organisation_id: int) -> bool:
    """A kraamzorg planning system keeps its own organisation's intake weeks, with a write-intake token.

    The token belongs to the organisation, not to the administrator who issued it (docs/api.md): it
    keeps writing after that account is deactivated, until it is revoked."""
    return bool(token.can_write_intake) and token.organisation_id == organisation_id


def can_register_shortage(user: Any) -> bool:
    """A kraamzorg shortage is registered by a community midwife or a kraamzorg planner."""
    return (
        has_role(user)
        and user.role in (User.Role.MIDWIFE, User.Role.KRAAMZORG_PLANNER)
        and user.organisation_id is not None
    )


def can_view_statistics(user: Any, region: Any) -> bool:
    """Refusal statistics: a coordinator for their own region, national administrators for all."""
    if not has_role(user) or region is None:
        return False
    if user.role == User.Role.NATIONAL_ADMIN or user.is_superuser:
        return True
    return bool(user.role == User.Role.COORDINATOR and user.region_id is not None and user.region_id == region.pk)


SEARCH_ROLES = frozenset({User.Role.MIDWIFE, User.Role.COORDINATOR, User.Role.ORG_ADMIN, User.Role.NATIONAL_ADMIN})


def can_search(user: Any) -> bool:
    """Capacity search: midwives, coordinators and administrators. Hospital staff keep to the board."""
    return has_role(user) and (user.role in SEARCH_ROLES or bool(user.is_superuser))


def can_set_care_rules(user: Any) -> bool:
    """The care-level thresholds of the search are national: national administrators only."""
    return has_role(user) and (user.role == User.Role.NATIONAL_ADMIN or bool(user.is_superuser))


def can_manage_phones(user: Any) -> bool:
    """The phone-number page: organisation administrators (their own locations) and national administrators."""
    return has_role(user) and (user.role == User.Role.NATIONAL_ADMIN or bool(user.is_superuser) or is_org_admin(user))


def can_set_location_phone(user: Any, location: Any) -> bool:
    """Delivery-suite numbers: an organisation administrator for their own organisation's locations;
    national administrators for any. Nobody else: a number must come from people who know it."""
    if not has_role(user) or location is None:
        return False
    if user.role == User.Role.NATIONAL_ADMIN or user.is_superuser:
        return True
    return is_org_admin(user) and location.organisation_id == user.organisation_id


def phone_locations(user: Any) -> Any:
    """The active locations whose phone numbers this user maintains (can_set_location_phone)."""
    active = Location.objects.filter(active=True)
    if not has_role(user):
        return Location.objects.none()
    if user.role == User.Role.NATIONAL_ADMIN or user.is_superuser:
        return active
    if is_org_admin(user):
        return active.filter(organisation_id=user.organisation_id)
    return Location.objects.none()


def can_unlock(user: Any, member: Any) -> bool:
    """Lift a login lockout: an organisation administrator for their own organisation's members,
    national administrators for anyone."""
    if not has_role(user) or member is None:
        return False
    if user.role == User.Role.NATIONAL_ADMIN or user.is_superuser:
        return True
    return is_org_admin(user) and member.organisation_id == user.organisation_id


ALERT_ROLES = frozenset({User.Role.COORDINATOR, User.Role.NATIONAL_ADMIN})


def receives_alerts(user: Any) -> bool:
    """Alert banners and alert e-mails (refusals.alerts): ROAZ coordinators and national administrators."""
    return has_role(user) and user.role in ALERT_ROLES


def can_set_alert_emails(user: Any, account: Any) -> bool:
    """Alert e-mails are switched on or off by the account's owner only: it is their own inbox."""
    return receives_alerts(user) and account is not None and user.pk == account.pk


def can_set_practice_vsv(user: Any) -> bool:
    """A midwifery practice's organisation administrator sets its VSV (docs/refusals.md, "VSV")."""
    return is_org_admin(user) and user.organisation.kind == "midwifery_practice"
