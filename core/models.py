from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models

_M = TypeVar("_M", bound=models.Model)


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


class AppendOnlyQuerySet(models.QuerySet[_M]):
    """The queryset of an append-only model: bulk ``update()`` and ``delete()`` refuse too.

    Use as ``objects = AppendOnlyQuerySet.as_manager()``. ``purge()`` is the one way out, for a
    retention task that deletes rows older than the retention period (and nothing else).
    """

    def _refuse(self) -> NoReturn:
        raise RuntimeError(f"{self.model._meta.verbose_name} is append-only")

    def update(self, **kwargs: Any) -> int:
        self._refuse()

    def delete(self) -> tuple[int, dict[str, int]]:
        self._refuse()

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        self._refuse()

    def purge(self) -> int:
        """Delete these rows for good: the retention task only (it knows why they may go)."""
        deleted, _per_model = super().delete()
        return deleted
