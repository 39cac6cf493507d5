from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import BaseUserCreationForm
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin, form_field
from hospitals.models import VSV, Location, Organisation, User
from hospitals.phones import MAX_INPUT_LENGTH as PHONE_INPUT_LENGTH
from hospitals.phones import parse_dutch_phone

# What an organisation administrator may hand out, per kind of organisation.
ROLES_BY_KIND: dict[str, list[str]] = {
    Organisation.Kind.HOSPITAL: [User.Role.HOSPITAL_STAFF, User.Role.ORG_ADMIN],
    Organisation.Kind.BIRTH_CENTRE: [User.Role.HOSPITAL_STAFF, User.Role.ORG_ADMIN],
    Organisation.Kind.MIDWIFERY_PRACTICE: [User.Role.MIDWIFE, User.Role.ORG_ADMIN],
    Organisation.Kind.NETWORK: [User.Role.ORG_ADMIN],
    Organisation.Kind.KRAAMZORG: [User.Role.KRAAMZORG_PLANNER, User.Role.ORG_ADMIN],
}


class MemberCreateForm(TiedErrorsMixin, BaseUserCreationForm):
    """A new account inside the administrator's own organisation."""

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "role", "locations"]
        widgets = {"locations": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        allowed = ROLES_BY_KIND[organisation.kind]
        form_field(self, "role", forms.ChoiceField).choices = [
            (value, label) for value, label in User.Role.choices if value in allowed
        ]
        self.fields["role"].required = True
        self.fields["email"].required = True
        form_field(self, "locations", forms.ModelMultipleChoiceField).queryset = Location.objects.filter(
            organisation=organisation, active=True
        )
        self.fields["locations"].help_text = _("For hospital staff: the locations whose units they keep up to date.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("role") == User.Role.HOSPITAL_STAFF and not data.get("locations"):
            self.add_error("locations", _("Hospital staff need at least one location."))
        if data.get("role") != User.Role.HOSPITAL_STAFF:
            data["locations"] = Location.objects.none()
        return data


class LocationPhoneForm(TiedErrorsMixin, forms.Form):
    """The delivery-suite number of one location, as an organisation administrator types it."""

    phone = forms.CharField(
        label=_("Delivery-suite phone number"),
        required=False,
        max_length=PHONE_INPUT_LENGTH,
        help_text=_(
            "The direct number midwives call, with the area code, e.g. 030 250 9111. Leave empty to remove it."
        ),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    # The number the administrator saw: a change by someone else in between is not overwritten unseen.
    seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_phone(self) -> str:
        text: str = self.cleaned_data["phone"].strip()
        if text:
            parse_dutch_phone(text)  # the service checks again; this ties the message to the field early
        return text


class AlertEmailsForm(forms.Form):
    """One's own alert e-mails on or off (hospitals/alert_email_views.py); an unticked box is "off"."""

    alert_emails = forms.BooleanField(
        label=_("E-mail me when an alert is raised"),
        required=False,
        help_text=_("The alert banner on your pages shows regardless."),
    )


class PracticeVsvForm(TiedErrorsMixin, forms.Form):
    """The VSV of one's own midwifery practice (hospitals/vsv_views.py); empty: the documented default."""

    vsv: forms.ModelChoiceField[VSV] = forms.ModelChoiceField(
        label=_("VSV of the practice"),
        required=False,
        queryset=VSV.objects.none(),
        empty_label=_("not set: the VSV of the nearest location"),
        help_text=_(
            "The obstetric partnership your practice works in: it tells refusals within it from those across VSVs."
        ),
    )

    def __init__(self, *args: Any, region_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "vsv", forms.ModelChoiceField).queryset = VSV.objects.filter(region_id=region_id)
