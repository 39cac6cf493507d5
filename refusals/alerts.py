"""Spike alerts: the beat task notices trouble and tells the region's coordinators and national administrators.

Two conditions, both configurable (docs/refusals.md):

* ``location_spike``: at least ``REFUSAL_ALERT_SPIKE_COUNT`` refusals (not withdrawn) at one
  location that happened within the last ``REFUSAL_ALERT_SPIKE_WINDOW``;
* ``region_stops``: at least ``REFUSAL_ALERT_STOP_LOCATIONS`` locations of one region with an
  obstetric unit (delivery suite, birth centre) in admission stop at the same time.

An alert is an *episode*: raised once when its condition starts, ended when it no longer
holds (a spike ends after a window without any refusal at that location; a stop alert when
fewer locations are in stop). One open alert per subject is a partial unique constraint, so
overlapping beat runs raise it once: the run whose INSERT wins notifies (banner pushed to
open pages, e-mail to the region's coordinators and the national administrators); the others
find the row and do nothing.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from capacity.selectors import obstetric_stops
from hospitals.models import Location, User
from refusals import live
from refusals.models import CLOCK_SKEW, Alert, Refusal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    kind: str
    key: str
    region_id: int
    location_id: int | None
    count: int
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def spike_key(location_id: int) -> str:
    return f"spike:location:{location_id}"


def stops_key(region_id: int) -> str:
    return f"stops:region:{region_id}"


def spikes(now: datetime) -> tuple[list[Condition], set[str]]:
    """Locations over the threshold now, and the keys of every location with any refusal in the window."""
    threshold = settings.REFUSAL_ALERT_SPIKE_COUNT
    if threshold <= 0:
        return [], set()
    window = settings.REFUSAL_ALERT_SPIKE_WINDOW
    recent = Refusal.objects.filter(
        withdrawn_at__isnull=True, occurred_at__gt=now - window, occurred_at__lte=now + CLOCK_SKEW
    )
    rows = list(recent.order_by().values("location_id", "region_id").annotate(n=Count("id")))
    active = {spike_key(r["location_id"]) for r in rows}
    over = [r for r in rows if r["n"] >= threshold]
    ids: dict[int, list[int]] = defaultdict(list)
    for refusal_id, location_id in recent.filter(location_id__in=[r["location_id"] for r in over]).values_list(
        "id", "location_id"
    ):
        ids[location_id].append(refusal_id)
    hours = round(window.total_seconds() / 3600, 1)
    conditions = [
        Condition(
            kind=Alert.Kind.LOCATION_SPIKE,
            key=spike_key(r["location_id"]),
            region_id=r["region_id"],
            location_id=r["location_id"],
            count=r["n"],
            detail={"refusals": sorted(ids[r["location_id"]]), "threshold": threshold, "window_hours": hours},
        )
        for r in over
    ]
    return conditions, active


def region_stops() -> list[Condition]:
    """Regions with at least the configured number of locations in admission stop right now."""
    threshold = settings.REFUSAL_ALERT_STOP_LOCATIONS
    if threshold <= 0:
        return []
    in_stop: dict[int, set[int]] = defaultdict(set)
    for region_id, location_id in obstetric_stops():
        in_stop[region_id].add(location_id)
    return [
        Condition(
            kind=Alert.Kind.REGION_STOPS,
            key=stops_key(region_id),
            region_id=region_id,
            location_id=None,
            count=len(locations),
            detail={"locations": sorted(locations), "threshold": threshold},
        )
        for region_id, locations in sorted(in_stop.items())
        if len(locations) >= threshold
    ]


# The kinds that hold while a condition lasts; the others (an expired request) are single events.
CONDITIONS = (Alert.Kind.LOCATION_SPIKE, Alert.Kind.REGION_STOPS)


def request_key(request_id: int) -> str:
    return f"request:{request_id}"


def raise_request_expired(
    *, request_id: int, region_id: int, location_id: int, urgency: str, sent_at: datetime
) -> None:
    """A placement request expired unanswered: its region's coordinators are alerted (banner and
    e-mail, after commit). Runs inside the expiry's transaction; once per request."""
    if Alert.objects.filter(key=request_key(request_id)).exists():
        return
    alert = Alert.objects.create(
        kind=Alert.Kind.REQUEST_EXPIRED,
        key=request_key(request_id),
        region_id=region_id,
        location_id=location_id,
        count=1,
        detail={"request": request_id, "urgency": urgency, "sent_at": sent_at.isoformat()},
        raised_at=timezone.now(),
    )
    logger.warning("alert raised: %s", alert.key)
    transaction.on_commit(functools.partial(notify, alert.pk))


def run(now: datetime | None = None) -> dict[str, int]:
    """Raise alerts whose condition started, end those whose condition is over. Idempotent."""
    now = now or timezone.now()
    spiking, spike_active = spikes(now)
    stopping = region_stops()
    raised = sum(_raise(condition, now) for condition in [*spiking, *stopping])
    holding = spike_active | {c.key for c in stopping}
    ended = (
        Alert.objects.filter(ended_at__isnull=True, kind__in=CONDITIONS).exclude(key__in=holding).update(ended_at=now)
    )
    return {"raised": raised, "ended": ended}


def _raise(condition: Condition, now: datetime) -> bool:
    if Alert.objects.filter(key=condition.key, ended_at__isnull=True).exists():
        return False  # this episode was raised before
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=condition.kind,
                key=condition.key,
                region_id=condition.region_id,
                location_id=condition.location_id,
                count=condition.count,
                detail=condition.detail,
                raised_at=now,
            )
    except IntegrityError:
        return False  # an overlapping run raised it a moment ago; it notifies
    logger.warning("alert raised: %s (%s)", condition.key, condition.count)
    transaction.on_commit(functools.partial(notify, alert.pk))
    return True


# Every recipient is in Bcc: nobody sees who else was written to.
UNDISCLOSED_RECIPIENTS = "undisclosed-recipients:;"


def recipients(region_id: int) -> list[str]:
    """Who is e-mailed about an alert of the region: its coordinators and every national administrator,
    active, with an address, and with alert e-mails on (their own choice, /accounts/alert-emails/)."""
    return list(
        User.objects.filter(
            Q(role=User.Role.COORDINATOR, region_id=region_id) | Q(role=User.Role.NATIONAL_ADMIN),
            is_active=True,
            alert_emails=True,
        )
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def notify(alert_id: int) -> None:
    """Banner to the region's open pages, and one e-mail to its coordinators and the national
    administrators, each in Bcc. Never raises."""
    alert = Alert.objects.select_related("region", "location").filter(pk=alert_id).first()
    if alert is None:
        return
    live.alerts_changed(alert.region_id)
    # Claim the e-mail first, so a repeated notify sends nothing.
    if not Alert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(emailed_at=timezone.now()):
        return
    bcc = recipients(alert.region_id)
    if not bcc:
        return
    subject, body = message(alert)
    email = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, bcc=bcc, headers={"To": UNDISCLOSED_RECIPIENTS})
    try:
        email.send()
    except Exception:
        logger.exception("e-mail for alert %s failed", alert_id)
        Alert.objects.filter(pk=alert_id).update(emailed_at=None)


def describe(alert: Alert) -> str:
    """One sentence, in the active language, for the banner, the e-mail and the report."""
    if alert.kind == Alert.Kind.LOCATION_SPIKE:
        return _("%(count)s refusals at %(location)s within %(hours)s hours.") % {
            "count": alert.count,
            "location": alert.location.name if alert.location else "?",
            "hours": _hours(alert),
        }
    if alert.kind == Alert.Kind.REQUEST_EXPIRED:
        sent = datetime.fromisoformat(alert.detail.get("sent_at", alert.raised_at.isoformat()))
        return _("A placement request to %(location)s sent at %(time)s expired without an answer.") % {
            "location": alert.location.name if alert.location else "?",
            "time": timezone.localtime(sent).strftime("%H:%M"),
        }
    names = Location.objects.filter(pk__in=alert.detail.get("locations", [])).order_by("name")
    return _("%(count)s locations in %(region)s in admission stop at the same time: %(names)s.") % {
        "count": alert.count,
        "region": alert.region.name,
        "names": ", ".join(n.name for n in names),
    }


def _hours(alert: Alert) -> str:
    hours = alert.detail.get("window_hours", 0)
    return str(int(hours)) if float(hours).is_integer() else str(hours)


def message(alert: Alert) -> tuple[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Alert for %(region)s: %(what)s") % {"region": alert.region.name, "what": describe(alert)}
        body = _(
            "%(what)s\n\nRaised at %(at)s. Acknowledge it and see the figures on the statistics page: %(path)s"
        ) % {
            "what": describe(alert),
            "at": timezone.localtime(alert.raised_at).strftime("%d-%m-%Y %H:%M"),
            "path": reverse("refusals:statistics_region", args=[alert.region.code]),
        }
    return subject, body
