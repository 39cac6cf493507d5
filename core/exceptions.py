"""Exceptions every app's services share."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class StaleVersion(Exception, Generic[T]):
    """The caller changed a record on a version that is no longer current; nothing was written.

    ``current`` is what is stored now, for the caller to show (a 409 with the current state).
    """

    def __init__(self, current: T, message: str = "") -> None:
        super().__init__(message or "the record was changed meanwhile")
        self.current = current
