"""The shortage registration form: a midwife or a planner, in seconds, on a phone."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin, form_field
from hospitals.models import Organisation, User
from kraamzorg.models import INDICATED_HOURS, MAX_INDICATED_HOURS, Shortage
from kraamzorg.shortages import ShortageInput


class OrganisationField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Organisation) -> str:
        return obj.name


class ShortageForm(TiedErrorsMixin, forms.Form):
    pc4 = forms.CharField(
        label=_("Postcode area of the family (4 digits)"),
        max_length=4,
        min_length=4,
        help_text=_("Only the 4 digits: never the letters or the address."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[1-9][0-9]{3}"}),
        error_messages={
            "required": _("Enter the 4 digits of a Dutch postcode, e.g. 3584."),
            "min_length": _("Enter the 4 digits of a Dutch postcode, e.g. 3584."),
            "max_length": _("Enter the 4 digits of a Dutch postcode, e.g. 3584."),
        },
    )
    due_week = forms.DateField(
        label=_("Expected due date (any day of the due week)"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Enter the expected due date."), "invalid": _("Enter a date, e.g. 2027-01-15.")},
    )
    indicated_hours = forms.IntegerField(
        label=_("Indicated hours"),
        initial=INDICATED_HOURS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"required": _("Enter the indicated hours.")},
    )
    promised_hours = forms.IntegerField(
        label=_("Hours promised (0 = no kraamzorg)"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"required": _("Enter the hours promised: 0 when there is no kraamzorg at all.")},
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=Shortage.Reason.choices, widget=forms.RadioSelect)
    vulnerable = forms.ChoiceField(
        label=_("Vulnerable situation?"),
        choices=Shortage.Vulnerable.choices,
        initial=Shortage.Vulnerable.UNKNOWN,
        widget=forms.RadioSelect,
        help_text=_("A category for the region's figures, not an identity."),
    )
    organisation = OrganisationField(
        label=_("Kraamzorg organisation concerned (optional)"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("— not known or several —"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.role == User.Role.KRAAMZORG_PLANNER:
            del self.fields["organisation"]  # a planner registers for their own organisation
        else:
            field = form_field(self, "organisation", OrganisationField)
            # The organisations of her own region: the list fits a phone.
            kraamzorg = Organisation.objects.filter(kind=Organisation.Kind.KRAAMZORG)
            region_id = user.organisation.region_id if user.organisation is not None else None
            if region_id is not None:
                kraamzorg = kraamzorg.filter(region_id=region_id)
            field.queryset = kraamzorg.order_by("name")
            for name in ("indicated_hours", "promised_hours"):
                self.fields[name].widget.attrs.update({"min": 0, "max": MAX_INDICATED_HOURS})

    def to_input(self) -> ShortageInput:
        data = self.cleaned_data
        organisation = data.get("organisation")
        due: date = data["due_week"]
        return ShortageInput(
            pc4=data["pc4"].strip(),
            due_week=due,
            indicated_hours=data["indicated_hours"],
            promised_hours=data["promised_hours"],
            reason=data["reason"],
            vulnerable=data["vulnerable"],
            organisation_id=organisation.pk if organisation else None,
        )
