"""Sent after commit when an organisation's intake grid changed (a later live push listens)."""

from django.dispatch import Signal

# kwargs: organisation_id (int), weeks (list[datetime.date])
intake_changed = Signal()

# Sent after commit when a shortage was registered or withdrawn (aggregation listens).
# kwargs: shortage_id (int)
shortage_changed = Signal()
