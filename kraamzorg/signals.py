"""Sent after commit: an organisation's intake grid changed, a shortage changed, the shortage rollup changed.

The live pushes listen (search/live.py, refusals/live.py; docs/kraamzorg.md, "Live").
"""

from django.dispatch import Signal

# kwargs: organisation_id (int), weeks (list[datetime.date])
intake_changed = Signal()

# Sent after commit when a shortage was registered or withdrawn (aggregation listens).
# kwargs: shortage_id (int)
shortage_changed = Signal()

# Sent after commit when the shortage rollup (ShortageWeekly) changed: the region's kraamzorg page
# listens (refusals/live.py). kwargs: region_ids (set[int], or None after a rebuild: every region)
rollups_changed = Signal()
