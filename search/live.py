"""Intake changes reach open kraamzorg tabs on the board's push path (capacity/live.py, docs/realtime.md).

No fan-out of its own: one event per change on the hub's Redis channel, addressed to the groups
``kraamzorg-<organisation id>-<week>`` of the weeks that changed, and to the organisation's
``kraamzorg-plan-<organisation id>``. The kraamzorg tab's socket (search/consumers.py,
``KraamzorgConsumer``) joins the groups of the organisations it lists for its due week, and tells its
page to fetch the list again, as the capacity search does; the planner's page (``PlanConsumer``)
joins its organisation's plan group and fetches its grid again.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings

from capacity import live
from core import metrics


def intake_group(organisation_id: int, week: date) -> str:
    return f"kraamzorg-{organisation_id}-{week:%Y-%m-%d}"


def plan_group(organisation_id: int) -> str:
    """The organisation's open planner pages: every week of its grid, whichever weeks the grid holds today."""
    return f"kraamzorg-plan-{organisation_id}"


def on_intake_changed(sender: object, *, organisation_id: int, weeks: list[date], **kwargs: object) -> None:
    """``kraamzorg.signals.intake_changed`` (sent after commit): tell the open tabs that show those weeks."""
    if not weeks:
        return
    live.hub.publish(
        {
            "groups": [intake_group(organisation_id, week) for week in weeks] + [plan_group(organisation_id)],
            # The sockets forward no markup (the page fetches its list): one empty frame for the hub.
            "frames": {settings.LANGUAGE_CODE: ""},
            "published_at": metrics.publish_time(),
        }
    )
