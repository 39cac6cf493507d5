"""Reference data (regions, VSVs, organisations, locations) and the accounts bound to them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """An acute-care network (ROAZ region)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120, unique=True)
    lead_hospital = models.CharField(_("lead hospital"), max_length=120, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("ROAZ region")
        verbose_name_plural = _("ROAZ regions")

    def __str__(self) -> str:
        return self.name


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

    name = models.CharField(_("name"), max_length=160, unique=True)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("region"))
    # A midwifery practice's own base: the default origin of a capacity search.
    pc4 = models.CharField(_("postcode (4 digits)"), max_length=4, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


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
    phone = models.CharField(_("delivery suite phone"), max_length=32, blank=True)
    source = models.TextField(_("source"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region__name", "city", "name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        HOSPITAL_STAFF = "hospital_staff", _("hospital staff")
        MIDWIFE = "midwife", _("community midwife")
        COORDINATOR = "coordinator", _("ROAZ coordinator")
        ORG_ADMIN = "org_admin", _("organisation administrator")
        NATIONAL_ADMIN = "national_admin", _("national administrator")

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
        if self.organisation_id is not None:
            return self.organisation.region  # type: ignore[union-attr]
        return self.region
