"""The customer card's one sentence about a score.

Kept in this one function on purpose: segmentation is gaining its own wording module
(`segmentation.wording.plain_explanation`), which replaces this at merge.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def _span(days: float) -> str:
    days = max(0, round(days))
    if days < 14:
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    if days < 70:
        weeks = round(days / 7)
        return ngettext("%(n)d week", "%(n)d weeks", weeks) % {"n": weeks}
    months = round(days / 30.4)
    return ngettext("%(n)d month", "%(n)d months", months) % {"n": months}


def _outlook(churn_risk: float) -> str:
    if churn_risk < 0.3:
        return _("likely to come back")
    if churn_risk < 0.6:
        return _("may be slipping away")
    return _("likely slipping away")


def plain_explanation(score) -> str:
    """E.g. "comes about every 3 weeks, last came 9 weeks ago — likely slipping away"."""
    if score is None:
        return _("Not scored yet: scores are worked out every night.")
    if score.frequency == 0 or score.recency_days < 0:
        return _("Has not bought anything yet.")
    last = _span(score.recency_days)
    if score.frequency == 1:
        head = _("came once, %(last)s ago") % {"last": last}
    else:
        every = _span((score.tenure_days - score.recency_days) / (score.frequency - 1))
        head = _("comes about every %(every)s, last came %(last)s ago") % {
            "every": every,
            "last": last,
        }
    return f"{head} — {_outlook(score.churn_risk)}"
