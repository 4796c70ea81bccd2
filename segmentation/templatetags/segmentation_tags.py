from django import template

from accounts.tenancy import business_for

from ..selectors import segment_tier_counts
from ..wording import churn_phrase as _churn_phrase

register = template.Library()


@register.inclusion_tag("segmentation/segment_chart.html", takes_context=True)
def segment_chart(context):
    request = context.get("request")
    business = business_for(request.user) if request else None
    rows = segment_tier_counts(business) if business else []
    biggest = max((row["total"] for row in rows), default=0)
    for row in rows:
        row["pct"] = {t: (n * 100.0 / biggest if biggest else 0) for t, n in row["tiers"].items()}
    return {"rows": rows, "business": business}


@register.filter
def churn_phrase(score) -> str:
    """The owner's words for churn risk: "chance not to come back in 90 days: 82 %"."""
    return _churn_phrase(score)
