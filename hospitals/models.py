"""Reference data (regions, VSVs, organisations, locations) and the accounts bound to them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AppendOnlyModel, AppendOnlyQuerySet
from hospitals.phones import parse_dutch_phone

# Gestational ages the product accepts anywhere (search, refusal form, API, database checks).
MIN_WEEKS = 16
MAX_WEEKS = 44
# Bounds an administrator can set the care-level thresholds within (weeks of gestation).
MIN_RULE_WEEKS = 22
MAX_RULE_WEEKS = 42


class CareType(models.TextChoices):
    """What the midwife asks of a hospital: the search's question and a refusal's subject."""

    BEGELEIDING = "begeleiding", _("begeleiding (midwife stays in charge)")
    OVERDRACHT = "overdracht", _("overdracht (transfer of care)")


class Region(models.Model):
    """An acute-care network (ROAZ region)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120, unique=True)
    lead_hospital = models.CharField(_("lead hospital"), max_length=120, blank=True)
    # Placement requests (docs/requests.md, "Parallel asking"): how many locations one request may
    # go to at once. 1 (the default) is one at a time; a region may allow up to 3.
    placement_parallel_max = models.PositiveSmallIntegerField(
        _("placement request: locations asked at once"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text=_("1 asks one location at a time; up to 3 asks several at once, and the first to accept gets her."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("ROAZ region")
        verbose_name_plural = _("ROAZ regions")

    def __str__(self) -> str:
        return self.name


class RegionBirths(models.Model):
    """Births in a region in a calendar year, loaded from a sourced file (``manage.py load_births``).

    The denominator of "refusals per 1,000 births" in the region benchmark; no figures ship
    with the project, because none could be sourced per ROAZ region (docs/refusals.md).
    """

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="births", verbose_name=_("region"))
    year = models.PositiveSmallIntegerField(_("year"))
    births = models.PositiveIntegerField(_("births"))
    source = models.CharField(_("source"), max_length=300)
    loaded_at = models.DateTimeField(_("loaded at"), default=timezone.now)

    class Meta:
        ordering = ["region__name", "year"]
        verbose_name = _("births per region and year")
        verbose_name_plural = _("births per region and year")
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="region_births_year")]

    def __str__(self) -> str:
        return f"{self.region} {self.year}: {self.births}"


class VSV(models.Model):
    """Verloskundig samenwerkingsverband: the obstetric partnership of one area."""

    name = models.CharField(_("name"), max_length=160, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="vsvs", verbose_name=_("region"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("VSV")
        verbose_name_plural = _("VSVs")

    def __str__(self) -> str:
        return self.name


class Organisation(models.Model):
    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("hospital organisation")
        MIDWIFERY_PRACTICE = "midwifery_practice", _("midwifery practice")
        BIRTH_CENTRE = "birth_centre", _("birth centre organisation")
        NETWORK = "network", _("acute-care network")
        KRAAMZORG = "kraamzorg", _("kraamzorg organisation")

    name = models.CharField(_("name"), max_length=160, unique=True)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("region"))
    # A midwifery practice's own base: the default origin of a capacity search.
    pc4 = models.CharField(_("postcode (4 digits)"), max_length=4, blank=True)
    # A midwifery practice's VSV, set by its organisation administrator. Empty: the VSV of the
    # nearest location with a VSV in the practice's region (hospitals.selectors.practice_vsv_ids).
    vsv = models.ForeignKey(
        VSV,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="practices",
        verbose_name=_("VSV"),
        help_text=_("Empty: the VSV of the nearest location in the region."),
    )

    # A kraamzorg organisation's intake number (the midwife's one-tap call): shown as typed in a
    # readable form, dialled in E.164; set in the administration, checked by clean().
    phone = models.CharField(_("intake phone"), max_length=32, blank=True)
    phone_e164 = models.CharField(_("intake phone (E.164)"), max_length=16, blank=True, editable=False)
    # Demo data made up for the demo (seed_demo, seed_demo_kraamzorg): labelled in the data and the UI.
    synthetic = models.BooleanField(_("synthetic (demo data)"), default=False)

    class MfaPolicy(models.TextChoices):
        # "default": only the roles in settings.MFA_REQUIRED_ROLES must use a second factor (hospitals/mfa.py).
        DEFAULT = "default", _("required for administrators and coordinators, optional for others")
        REQUIRED = "required", _("required for every member")

    mfa_policy = models.CharField(
        _("second factor"), max_length=12, choices=MfaPolicy.choices, default=MfaPolicy.DEFAULT
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.phone.strip():
            try:
                parsed = parse_dutch_phone(self.phone)
            except ValidationError as exc:
                raise ValidationError({"phone": exc.messages}) from exc
            self.phone, self.phone_e164 = parsed.display, parsed.e164
        else:
            self.phone, self.phone_e164 = "", ""

    @property
    def phone_href(self) -> str:
        """The intake number as a one-tap link, or "" when none is known."""
        return f"tel:{self.phone_e164}" if self.phone_e164 else ""


class Location(models.Model):
    """A hospital site or a birth centre: the place a client is brought to."""

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("hospital")
        BIRTH_CENTRE = "birth_centre", _("stand-alone birth centre")

    class NeonatalLevel(models.IntegerChoices):
        NONE = 0, _("no neonatology")
        MEDIUM_CARE = 1, _("neonatal medium care")
        HIGH_CARE = 2, _("neonatal high care")
        NICU = 3, _("NICU (perinatal centre)")

    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    name = models.CharField(_("name"), max_length=160)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="locations", verbose_name=_("organisation")
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="locations", verbose_name=_("region"))
    vsv = models.ForeignKey(
        VSV, on_delete=models.SET_NULL, null=True, blank=True, related_name="locations", verbose_name=_("VSV")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.HOSPITAL)
    city = models.CharField(_("city"), max_length=80)
    pc4 = models.CharField(_("postcode (4 digits)"), max_length=4, blank=True)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    acute_obstetrics = models.BooleanField(_("24/7 acute obstetrics"), default=True)
    neonatal_level = models.PositiveSmallIntegerField(
        _("neonatal level"), choices=NeonatalLevel.choices, default=NeonatalLevel.NONE
    )
    # Entered by the location's organisation administrator (hospitals.services.location_set_phone),
    # never invented: shown as typed in a readable form, dialled in E.164.
    phone = models.CharField(_("delivery suite phone"), max_length=32, blank=True)
    phone_e164 = models.CharField(_("delivery suite phone (E.164)"), max_length=16, blank=True, editable=False)
    source = models.TextField(_("source"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region__name", "city", "name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")

    def __str__(self) -> str:
        return self.name

    @property
    def phone_href(self) -> str:
        """The delivery suite's number as a one-tap link, or "" when none is known."""
        return f"tel:{self.phone_e164}" if self.phone_e164 else ""


class LocationPhoneChange(AppendOnlyModel):
    """Who changed a location's delivery-suite phone number, from what to what, and when."""

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="phone_changes", verbose_name=_("location")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    by = models.ForeignKey("hospitals.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    before = models.CharField(_("before"), max_length=32, blank=True)
    after = models.CharField(_("after"), max_length=32, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("phone number change")
        verbose_name_plural = _("phone number history")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.location}: {self.before or '-'} -> {self.after or '-'}"


class Postcode(models.Model):
    """A Dutch 4-digit postcode area (PC4) with its centroid: where a capacity search starts.

    Reference data from GeoNames (CC BY 4.0), see hospitals/data/nl_pc4.SOURCE.md.
    """

    pc4 = models.CharField(_("postcode (4 digits)"), max_length=4, primary_key=True)
    place = models.CharField(_("place"), max_length=80, db_index=True)
    municipality = models.CharField(_("municipality"), max_length=80)
    province = models.CharField(_("province"), max_length=40)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))

    class Meta:
        ordering = ["pc4"]
        verbose_name = _("postcode area")
        verbose_name_plural = _("postcode areas")

    def __str__(self) -> str:
        return f"{self.pc4} {self.place}"


class CareLevelRules(models.Model):
    """The gestational-age thresholds that decide which neonatal level a search asks for.

    One row (pk 1), changed only by national administrators through
    hospitals.services.care_rules_update, which records who changed what in
    CareLevelRulesChange. Defaults from shared/domain.md (docs/search.md).
    """

    nicu_below_weeks = models.PositiveSmallIntegerField(
        _("NICU needed below (weeks)"), default=32, help_text=_("Below this gestational age only a NICU will do.")
    )
    high_care_below_weeks = models.PositiveSmallIntegerField(
        _("high care needed below (weeks)"),
        default=34,
        help_text=_("From the NICU threshold up to this age: neonatal high care or a NICU. From here: medium care."),
    )
    term_from_weeks = models.PositiveSmallIntegerField(
        _("term from (weeks)"),
        default=37,
        help_text=_("From this age no neonatal unit is needed, and a birth centre may take begeleiding."),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    updated_by = models.ForeignKey(
        "hospitals.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )

    class Meta:
        verbose_name = _("care-level rules")
        verbose_name_plural = _("care-level rules")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(nicu_below_weeks__gte=MIN_RULE_WEEKS)
                & models.Q(high_care_below_weeks__gt=models.F("nicu_below_weeks"))
                & models.Q(term_from_weeks__gt=models.F("high_care_below_weeks"))
                & models.Q(term_from_weeks__lte=MAX_RULE_WEEKS),
                name="care_rules_thresholds_ascending",
            ),
        ]

    def __str__(self) -> str:
        return f"< {self.nicu_below_weeks} NICU, < {self.high_care_below_weeks} high care, {self.term_from_weeks}+ term"

    @classmethod
    def current(cls) -> CareLevelRules:
        """The rules in force: the stored row, or the defaults while nobody has changed them."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    def thresholds(self) -> dict[str, int]:
        return {
            "nicu_below_weeks": self.nicu_below_weeks,
            "high_care_below_weeks": self.high_care_below_weeks,
            "term_from_weeks": self.term_from_weeks,
        }


class CareLevelRulesChange(AppendOnlyModel):
    """Who changed the care-level thresholds, from what to what, and when."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    by = models.ForeignKey("hospitals.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    before = models.JSONField(_("before"))
    after = models.JSONField(_("after"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("care-level rules change")
        verbose_name_plural = _("care-level rules history")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.before} -> {self.after}"


class User(AbstractUser):
    class Role(models.TextChoices):
        HOSPITAL_STAFF = "hospital_staff", _("hospital staff")
        MIDWIFE = "midwife", _("community midwife")
        COORDINATOR = "coordinator", _("ROAZ coordinator")
        ORG_ADMIN = "org_admin", _("organisation administrator")
        NATIONAL_ADMIN = "national_admin", _("national administrator")
        KRAAMZORG_PLANNER = "kraamzorg_planner", _("kraamzorg planner")

    # AbstractUser's field with a help text that suits an administrator creating someone else's
    # account (members page and Django admin) rather than Django's generic "Required. 150 characters...".
    username = models.CharField(
        _("username"),
        max_length=150,
        unique=True,
        help_text=_(
            "The name this person logs in with, for example j.devries. "
            "Letters, digits and . - _ @ + only; at most 150 characters."
        ),
        validators=[AbstractUser.username_validator],
        error_messages={"unique": _("A user with that username already exists.")},
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("organisation"),
    )
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coordinators",
        verbose_name=_("region"),
        help_text=_("For ROAZ coordinators: the region they coordinate."),
    )
    locations = models.ManyToManyField(
        Location,
        blank=True,
        related_name="staff",
        verbose_name=_("locations"),
        help_text=_("For hospital staff: the locations whose units they keep up to date."),
    )
    favourite_locations = models.ManyToManyField(
        Location, blank=True, related_name="favourited_by", verbose_name=_("favourite locations")
    )
    # Read by refusals.alerts.notify; switched by its owner on /accounts/alert-emails/
    # (hospitals.services.user_set_alert_emails). Off stops the e-mail only, never the banner.
    alert_emails = models.BooleanField(
        _("alert e-mails"),
        default=True,
        help_text=_(
            "For ROAZ coordinators and national administrators: receive an e-mail when an alert is raised. "
            "The alert banner on their pages shows regardless."
        ),
    )
    # For community midwives: the number a delivery suite calls back on about a placement request
    # (E.164). Kept when she sends a request (placements.services.placement_send), editable there.
    callback_phone = models.CharField(_("call-back number (E.164)"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def home_region(self) -> Region | None:
        """The region whose board this user sees first."""
        if self.role == self.Role.COORDINATOR:
            return self.region
        if self.role == self.Role.HOSPITAL_STAFF:
            first = self.locations.select_related("region").first()
            return first.region if first else None
        organisation = self.organisation  # no query without an organisation_id
        if organisation is not None:
            return organisation.region
        return self.region


class AccountChange(AppendOnlyModel):
    """Who created, deactivated or reactivated an account, and when (organisation administrators' actions)."""

    class Action(models.TextChoices):
        CREATED = "created", _("created")
        DEACTIVATED = "deactivated", _("deactivated")
        ACTIVATED = "activated", _("activated")
        MFA_RESET = "mfa_reset", _("second factor reset")

    account = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="account_changes", verbose_name=_("account")
    )
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("account change")
        verbose_name_plural = _("account changes")

    def __str__(self) -> str:
        return f"{self.account} {self.action} by {self.by} {self.at:%Y-%m-%d %H:%M}"


class AccessLog(AppendOnlyModel):
    """NEN 7513-style access log: who viewed, exported or changed what, when and from where (docs/security.md).

    Written only through ``hospitals.audit.record``; never changed or deleted by the application
    (the retention purge is the one exception, see docs/security.md).
    """

    class Action(models.TextChoices):
        LOGIN = "login", _("logged in")
        LOGIN_FAILED = "login_failed", _("failed login")
        LOCKED_OUT = "locked_out", _("locked out")
        UNLOCKED = "unlocked", _("unlocked")
        LOGOUT = "logout", _("logged out")
        MFA_ENROLLED = "mfa_enrolled", _("second factor set up")
        MFA_FAILED = "mfa_failed", _("wrong second-factor code")
        MFA_RESET = "mfa_reset", _("second factor reset")
        VIEW = "view", _("viewed")
        EXPORT = "export", _("exported")
        ACCOUNT_CHANGE = "account_change", _("account changed")
        SETTING_CHANGE = "setting_change", _("setting changed")
        TOKEN_CREATED = "token_created", _("token created")
        TOKEN_REVOKED = "token_revoked", _("token revoked")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    # PROTECT: SET_NULL would be an UPDATE, which the database refuses (migration 0007); an account
    # with entries is deactivated, not deleted, until retention has purged its entries.
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    # Copied at the time, so the entry keeps saying who it was after the account changes.
    username = models.CharField(_("username"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=20, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices, db_index=True)
    what = models.CharField(_("what"), max_length=60)  # e.g. "statistics", "refusal list", "api token"
    object_id = models.CharField(_("object"), max_length=64, blank=True)
    scope = models.CharField(_("scope"), max_length=300, blank=True)  # e.g. "region=midden period=2026-Q3"
    ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    path = models.CharField(_("path"), max_length=300, blank=True)

    objects = AppendOnlyQuerySet["AccessLog"].as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '-'} {self.action} {self.what} {self.object_id}"
