from __future__ import annotations

from typing import Any

from django.db import models


class AppendOnlyModel(models.Model):
    """A history row: written once, never changed or deleted (who did what, when)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError(f"{self._meta.verbose_name} is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError(f"{self._meta.verbose_name} is append-only")
