"""Form helpers shared by every app."""

from __future__ import annotations

from typing import Any


class TiedErrorsMixin:
    """Mark fields with errors as invalid and point them at their message (screen readers).

    Templates render a field's errors in an element with id ``<auto_id>-error``
    (templates/capacity/_field_errors.html).
    """

    fields: dict[str, Any]
    errors: Any

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}-error"}  # type: ignore[index]
                )
