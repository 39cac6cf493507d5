"""Push placement requests to the screens that show them (docs/requests.md, "Live").

Few sockets listen (a location's desk screens, one midwife's phone), so the stock Channels
design is enough: a channel-layer group per location and per midwife (core.push). After each
commit (``signals.request_changed``) the location's whole desk section and the midwife's whole
ask panel are rendered from the same partials the pages use, once per language, and pushed:
full snapshots, never deltas, so a lost or repeated frame does no harm. Never raises: the
request is saved; a screen that missed a push gets a snapshot when it reconnects, and polls
while it cannot.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core.push import group_send
from hospitals.models import User
from placements import selectors
from placements.models import PlacementRequest

logger = logging.getLogger(__name__)


def location_group(location_id: int) -> str:
    return f"placements-location-{location_id}"


def midwife_group(user_id: int) -> str:
    return f"placements-midwife-{user_id}"


def render_desk(location_id: int, *, oob: bool, desk: selectors.Desk | None = None) -> str:
    desk = desk or selectors.desk(location_id)
    return render_to_string("placements/_desk_location.html", {"desk": desk, "oob": oob, "now": timezone.now()})


def render_ask(ask: selectors.Ask, *, oob: bool) -> str:
    return render_to_string("placements/_ask.html", {"ask": ask, "oob": oob, "now": timezone.now()})


def render_asks(midwife: User, *, oob: bool, asks: list[selectors.Ask] | None = None) -> str:
    """Her whole list of recent asks: what her list page gets pushed (a new ask appears in it)."""
    asks = selectors.asks_of(midwife) if asks is None else asks
    return render_to_string("placements/_asks.html", {"asks": asks, "oob": oob, "now": timezone.now()})


def _frames(render: Any) -> dict[str, str]:
    frames: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            frames[code] = render()
    return frames


def on_request_changed(sender: object, request_id: int, location_id: int, midwife_id: int, **_kw: object) -> None:
    """Receiver of ``signals.request_changed`` (after commit)."""
    try:
        # Read once (the asks each run the search for their next location), render once per language.
        desk_now = selectors.desk(location_id)
        desk = _frames(lambda: render_desk(location_id, oob=True, desk=desk_now))
        midwife = User.objects.get(pk=midwife_id)
        ask_key = PlacementRequest.objects.values_list("ask", flat=True).get(pk=request_id)
        asks = selectors.asks_of(midwife)
        ask = next((a for a in asks if a.ask == ask_key), None) or selectors.ask_of(ask_key, midwife)
        one = _frames(lambda: render_ask(ask, oob=True)) if ask is not None else {}
        whole = _frames(lambda: render_asks(midwife, oob=True, asks=asks))
    except Exception:
        logger.exception("rendering placement request %s for its screens failed", request_id)
        return
    group_send(location_group(location_id), {"type": "frames.push", "frames": desk})
    # Her phone shows one ask (its page) or the list: each socket takes the frame for what it shows.
    group_send(
        midwife_group(midwife_id), {"type": "frames.push", "frames": whole, "ask": str(ask_key), "ask_frames": one}
    )
