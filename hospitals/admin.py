from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.admin import ReadOnlyAdmin
from hospitals import audit
from hospitals.models import (
    VSV,
    AccessLog,
    AccountChange,
    CareLevelRules,
    CareLevelRulesChange,
    Location,
    LocationPhoneChange,
    Organisation,
    Postcode,
    Region,
    User,
)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "lead_hospital"]
    search_fields = ["name", "code"]


@admin.register(VSV)
class VSVAdmin(admin.ModelAdmin):
    list_display = ["name", "region"]
    list_filter = ["region"]
    search_fields = ["name"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "region", "phone", "synthetic"]
    list_filter = ["kind", "region", "synthetic"]
    search_fields = ["name"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "region", "neonatal_level", "acute_obstetrics", "active"]
    list_filter = ["region", "neonatal_level", "acute_obstetrics", "active", "kind"]
    search_fields = ["name", "city", "pc4"]
    autocomplete_fields = ["organisation", "vsv"]
    # Changed on the phone-number page (/accounts/phones/), which records who changed what.
    readonly_fields = ["phone"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "organisation", "region", "is_active"]
    list_filter = ["role", "is_active", "region", "alert_emails"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Role"), {"fields": ("role", "organisation", "region", "locations", "favourite_locations")}),
        (_("Alert e-mails"), {"fields": ("alert_emails",)}),
    )
    filter_horizontal = ["locations", "favourite_locations", "groups", "user_permissions"]

    # What decides what an account may see or do, and whether it is e-mailed about alerts (also switched
    # by its owner, hospitals.services.user_set_alert_emails): a change to any of these is an access-log entry.
    AUDITED = (
        "role",
        "organisation",
        "region",
        "locations",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "alert_emails",
    )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """After the account and its bindings are saved: one entry for the whole save (m2m included)."""
        super().save_related(request, form, formsets, change)
        account: User = form.instance
        if not change:
            scope = audit.scope_of(change="created", username=account.username, via="admin")
        else:
            changed = {name: _before_after(form, name) for name in self.AUDITED if name in form.changed_data}
            if not changed:
                return
            scope = audit.scope_of(change="changed", username=account.username, via="admin", **changed)
        audit.record(
            action=AccessLog.Action.ACCOUNT_CHANGE, what="account", request=request, object_id=account.pk, scope=scope
        )

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        pk, username = obj.pk, obj.username
        super().delete_model(request, obj)
        _record_deleted(request, pk, username)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        gone = list(queryset.values_list("pk", "username"))
        super().delete_queryset(request, queryset)
        for pk, username in gone:
            _record_deleted(request, pk, username)


def _plain(value: object) -> str:
    """A form value as it goes into the log: ids for records, sorted ids for several."""
    if value is None or value == "":
        return "-"
    if isinstance(value, Model):
        return str(value.pk)
    if isinstance(value, QuerySet | list | tuple | set):
        return ",".join(sorted(_plain(item) for item in value)) or "-"
    return str(value)


def _before_after(form: Any, name: str) -> str:
    return f"{_plain(form.initial.get(name))}->{_plain(form.cleaned_data.get(name))}"


def _record_deleted(request: HttpRequest, pk: int, username: str) -> None:
    audit.record(
        action=AccessLog.Action.ACCOUNT_CHANGE,
        what="account",
        request=request,
        object_id=pk,
        scope=audit.scope_of(change="deleted", username=username, via="admin"),
    )


@admin.register(Postcode)
class PostcodeAdmin(ReadOnlyAdmin):
    """Reference data from hospitals/data/nl_pc4.csv; change the file and reload it instead."""

    list_display = ["pc4", "place", "municipality", "province"]
    list_filter = ["province"]
    search_fields = ["pc4", "place", "municipality"]


@admin.register(CareLevelRules)
class CareLevelRulesAdmin(ReadOnlyAdmin):
    """Changed on the search rules page, which records who changed what (docs/search.md)."""

    list_display = ["nicu_below_weeks", "high_care_below_weeks", "term_from_weeks", "updated_at", "updated_by"]


@admin.register(CareLevelRulesChange)
class CareLevelRulesChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "by", "before", "after"]


@admin.register(LocationPhoneChange)
class LocationPhoneChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "location", "by", "before", "after"]
    list_filter = ["location__region"]
    search_fields = ["location__name"]


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """Read only, like every history; searched and exported on /accounts/access-log/ too."""

    list_display = ["at", "username", "role", "organisation", "action", "what", "object_id", "scope", "ip", "path"]
    list_filter = ["action"]
    search_fields = ["username", "organisation", "what", "object_id", "scope"]
    date_hierarchy = "at"
    show_full_result_count = False  # a count over millions of rows on every page is slow


@admin.register(AccountChange)
class AccountChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "account", "action", "by"]
    list_filter = ["action"]
    search_fields = ["account__username", "by__username"]


# A second factor is set up by its owner and reset through member_reset_second_factor, which records
# who reset whose (AccountChange, AccessLog). django-otp's own admin pages would delete devices without
# that record: they are taken out of the admin (the otp apps come before this one in INSTALLED_APPS).
for device_model in (StaticDevice, TOTPDevice):
    if admin.site.is_registered(device_model):
        admin.site.unregister(device_model)
