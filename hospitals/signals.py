"""Signals of the hospitals app, for the layers above it to act on without hospitals importing them."""

from django.dispatch import Signal

# Sent inside the transaction that changed what a location shows (its phone number, ...),
# with ``location_id``. Capacity re-pushes the location's board row after commit
# (capacity/apps.py), so open boards and search results follow.
location_changed = Signal()
