"""The campaigns section of the weekly report (issue 15 §5): the campaigns that ran in the
week (running, paused, or finished in it) with what each really earned so far, in the
owner's words, and the campaign messages sent per week. Reports sits above campaigns
(DESIGN.md §4), so it calls campaigns' selectors directly; the section is registered through
the `reports.sections` hook in `ReportsConfig.ready()`.

The report stores figures, not sentences: `present_campaigns` words them in the reader's
language when the report is shown (admin, e-mail, PDF, app)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from campaigns.models import Campaign, CampaignMember
from campaigns.selectors import came_back_words, campaign_results, summary_words

MAX_CAMPAIGNS = 10


def campaign_section(*, business, weeks: list[tuple[datetime, datetime]]) -> dict | None:
    """None when no campaign ran in the report week; else the section, this week first."""
    start, end = weeks[0]
    campaigns = list(
        Campaign.objects.for_business(business)
        .filter(started_at__lt=end)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=start))
        .order_by("-started_at", "-id")[:MAX_CAMPAIGNS]
    )
    if not campaigns:
        return None
    sent = CampaignMember.objects.for_business(business).filter(status=CampaignMember.Status.SENT)
    per_week = sent.aggregate(  # one query for every week of the report
        **{
            f"w{i}": Count("id", filter=Q(sent_at__gte=s, sent_at__lt=e))
            for i, (s, e) in enumerate(weeks)
        }
    )
    values = [per_week[f"w{i}"] for i in range(len(weeks))]
    items: list[dict[str, Any]] = []
    for campaign in campaigns:
        campaign.business = business
        finished = campaign.finished_at is not None and campaign.finished_at < end
        if finished:
            state = Campaign.Status.FINISHED
        elif campaign.status == Campaign.Status.PAUSED:
            state = Campaign.Status.PAUSED
        else:
            state = Campaign.Status.RUNNING
        zone = business.zone
        items.append(
            {
                "id": campaign.pk,
                "name": campaign.name,
                "kind": campaign.kind,
                "state": str(state),
                "started": campaign.started_at.astimezone(zone).date().isoformat(),
                "finished": (
                    campaign.finished_at.astimezone(zone).date().isoformat() if finished else None
                ),
                "figures": campaign_results(campaign, now=end).figures(),
            }
        )
    return {
        "key": "campaigns",
        "title": gettext_noop("Campaigns"),
        "rows": [
            {"label": gettext_noop("Campaign messages sent"), "kind": "count", "values": values}
        ],
        "campaigns": items,
    }


def _day(iso: str) -> str:
    return formats.date_format(date.fromisoformat(iso), "DATE_FORMAT")


def present_campaigns(section: dict, money) -> list[dict[str, str]]:
    """The stored campaigns in the reader's language: a heading and the result in words."""
    entries = []
    for item in section.get("campaigns", []):
        kind = Campaign.Kind(item["kind"]).label if item["kind"] in Campaign.Kind.values else ""
        if item["state"] == Campaign.Status.FINISHED:
            when = _("finished %(day)s") % {"day": _day(item["finished"])}
        elif item["state"] == Campaign.Status.PAUSED:
            when = _("paused; started %(day)s") % {"day": _day(item["started"])}
        else:
            when = _("running since %(day)s") % {"day": _day(item["started"])}
        entries.append(
            {
                "heading": " · ".join(str(p) for p in (item["name"], kind, when) if p),
                "text": summary_words(item["figures"], money),
                "detail": came_back_words(item["figures"]),
            }
        )
    return entries
