"""``{% alert_banners %}``: open alerts on every page of a coordinator or national administrator."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.utils import timezone, translation

from refusals import alerts
from refusals.models import Alert
from refusals.selectors import statistics_region_ids

register = template.Library()


@register.inclusion_tag("refusals/_alert_banners.html", takes_context=True)
def alert_banners(context: Any) -> dict[str, Any]:
    request = context.get("request")
    region_ids = statistics_region_ids(getattr(request, "user", None))
    if not region_ids:
        return {"show": False}
    by_region: dict[int, list[Alert]] = defaultdict(list)
    for alert in Alert.objects.filter(
        region_id__in=region_ids,
        acknowledged_at__isnull=True,
        raised_at__gte=timezone.now() - settings.REFUSAL_ALERT_BANNER,
    ).select_related("region", "location"):
        by_region[alert.region_id].append(alert)
    return {
        "show": True,
        "regions": [(region_id, by_region[region_id]) for region_id in region_ids],
        "ws_path": "/ws/alerts/?" + urlencode({"lang": translation.get_language() or settings.LANGUAGE_CODE}),
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path() if request else "",
    }


@register.filter
def describe_alert(alert: Alert) -> str:
    return alerts.describe(alert)
