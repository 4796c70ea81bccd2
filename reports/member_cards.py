"""The member-card section of the weekly report (issue 14 §2): stored value outstanding and
its change over the week, top-ups vs spend, from membership's selector. Reports sits above
membership (DESIGN.md §4), so it calls it directly; the section is registered through the
`reports.sections` hook in `ReportsConfig.ready()`, like any other extra section."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_noop

from membership.models import MemberAccount
from membership.selectors import stored_value_weeks

# (key in membership's figures, label msgid): labels are translated when the report is shown.
ROWS = (
    ("outstanding", gettext_noop("Stored value outstanding")),
    ("change", gettext_noop("Change in stored value")),
    ("topped_up", gettext_noop("Topped up (paid)")),
    ("bonus_given", gettext_noop("Top-up bonus given")),
    ("spent", gettext_noop("Spent from member cards")),
)


def member_card_section(*, business, weeks: list[tuple[datetime, datetime]]) -> dict | None:
    """None for a business without member cards; else the section, this week first."""
    if not MemberAccount.objects.for_business(business).exists():
        return None
    figures = stored_value_weeks(business, weeks)
    rows: list[dict[str, Any]] = [
        {"label": label, "kind": "money", "values": [f"{week[key]:.2f}" for week in figures]}
        for key, label in ROWS
    ]
    return {"key": "member_cards", "title": gettext_noop("Member cards"), "rows": rows}
