"""The API's part in a placement request's change: hand its full state to the streams that follow it.

``placements.signals.request_changed`` is sent after commit (placements/services.py). The request is
read once and rendered as the stream's JSON event (``api.schemas.request_event_frame``), then
published into the board's hub (capacity/live.py) to the groups of the asked location's organisation
(its region's streams and its national one, api/stream.py ``request_group``); only streams of that
organisation's answer-requests tokens join them. Events carry the request's ``version``: two changes
committed close together in different processes may publish out of order, so a client keeps the
highest version per request.
"""

from __future__ import annotations

import logging
from typing import Any

from api.schemas import request_event_frame
from api.stream import request_group
from capacity import live
from placements.models import PlacementRequest

logger = logging.getLogger(__name__)


def publish_request(sender: Any, *, request_id: int, **kwargs: Any) -> None:
    """Receiver of ``placements.signals.request_changed``. Never raises: the change is saved."""
    try:
        request = (
            PlacementRequest.objects.select_related("location__organisation", "midwife__organisation")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            return
        organisation_id, region_id = request.location.organisation_id, request.location.region_id
        frame = request_event_frame(request)
    except Exception:
        logger.exception("rendering placement request %s for the API stream failed", request_id)
        return
    live.hub.publish(
        {
            "request_id": request_id,
            "groups": [request_group(organisation_id, region_id), request_group(organisation_id, None)],
            "frames": {live.JSON_FRAME: frame},
        }
    )
