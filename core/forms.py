"""Form helpers shared by every app."""

from __future__ import annotations

from typing import TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

F = TypeVar("F", bound=forms.Field)


class TiedErrorsMixin(forms.BaseForm):
    """Mark fields with errors as invalid and point them at their message (screen readers).

    Templates render a field's errors in an element with id ``<auto_id>-error``
    (templates/core/_field_errors.html) and its help text, if any, with id ``<auto_id>_helptext``.
    Put it before the form class: ``class MyForm(TiedErrorsMixin, forms.Form)``.
    """

    # A hidden field (the version the page showed) cannot show its own error: say it on the form.
    HIDDEN_FIELD_ERROR = _("This form was out of date or changed on the way. Reload the page and try again.")

    def full_clean(self) -> None:
        super().full_clean()
        for name in list(self.errors):
            self._tie(name)
        if any(name in self.fields and self[name].is_hidden for name in self.errors):
            message = str(self.HIDDEN_FIELD_ERROR)
            if message not in self.non_field_errors():
                self.add_error(None, message)

    def add_errors_from(self, exc: ValidationError) -> None:
        """Put a service's validation messages on their fields (unknown fields: on the form)."""
        for field, messages in exc.message_dict.items():
            name = field if field in self.fields else None
            for message in messages:
                self.add_error(name, message)
            if name is not None:
                self._tie(name)

    def _tie(self, name: str) -> None:
        if name in self.fields:
            auto_id = self[name].auto_id
            # Keep the help text described too (Django's own <auto_id>_helptext, which this replaces).
            described = f"{auto_id}-error {auto_id}_helptext" if self.fields[name].help_text else f"{auto_id}-error"
            self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": described})


def form_field(form: forms.BaseForm, name: str, kind: type[F]) -> F:
    """One of a form instance's fields, as the class it is declared with (to set its choices or queryset)."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{type(form).__name__}.{name} is a {type(field).__name__}, not a {kind.__name__}")
    return field
