"""Forms of the second-factor pages (hospitals/mfa_views.py)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin


class EnrolForm(TiedErrorsMixin, forms.Form):
    code = forms.CharField(
        label=_("Code from your app"),
        max_length=12,
        help_text=_("The 6 digits your authenticator app shows now."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
    )


class VerifyForm(TiedErrorsMixin, forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=24,
        help_text=_("The 6 digits your authenticator app shows now, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false", "autofocus": True}
        ),
    )
    remember = forms.BooleanField(label=_("Remember this device for my shift"), required=False)
