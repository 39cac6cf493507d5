from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from hospitals.models import (
    VSV,
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
    list_display = ["name", "kind", "region"]
    list_filter = ["kind", "region"]
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
    list_filter = ["role", "is_active", "region"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Role"), {"fields": ("role", "organisation", "region", "locations", "favourite_locations")}),
    )
    filter_horizontal = ["locations", "favourite_locations", "groups", "user_permissions"]


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


@admin.register(AccountChange)
class AccountChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "account", "action", "by"]
    list_filter = ["action"]
    search_fields = ["account__username", "by__username"]
