"""Form helpers shared by every app."""

from __future__ import annotations

from typing import Any


class TiedErrorsMixin:
    """Mark fields with errors as invalid and point them at their message (screen readers).

    Templates render a field's errors in an element with id ``<auto_id>-error``
    (templates/capacity/_field_errors.html) and its help text, if any, with id ``<auto_id>_helptext``.
    """

    fields: dict[str, Any]
    errors: Any

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:
            if name in self.fields:
                auto_id = self[name].auto_id  # type: ignore[index]
                # Keep the help text described too (Django's own <auto_id>_helptext, which this replaces).
                described = f"{auto_id}-error {auto_id}_helptext" if self.fields[name].help_text else f"{auto_id}-error"
                self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": described})
