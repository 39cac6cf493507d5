"""Form helpers shared by every app."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class TiedErrorsMixin:
    """Mark fields with errors as invalid and point them at their message (screen readers).

    Templates render a field's errors in an element with id ``<auto_id>-error``
    (templates/core/_field_errors.html) and its help text, if any, with id ``<auto_id>_helptext``.
    """

    fields: dict[str, Any]
    errors: Any

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:
            self._tie(name)

    def add_errors_from(self, exc: ValidationError) -> None:
        """Put a service's validation messages on their fields (unknown fields: on the form)."""
        for field, messages in exc.message_dict.items():
            name = field if field in self.fields else None
            for message in messages:
                self.add_error(name, message)  # type: ignore[attr-defined]
            if name is not None:
                self._tie(name)

    def _tie(self, name: str) -> None:
        if name in self.fields:
            auto_id = self[name].auto_id  # type: ignore[index]
            # Keep the help text described too (Django's own <auto_id>_helptext, which this replaces).
            described = f"{auto_id}-error {auto_id}_helptext" if self.fields[name].help_text else f"{auto_id}-error"
            self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": described})
