"""Scoring warnings for people. The maths (no Django) returns codes with parameters
(segmentation.maths.engine.WARNING_CODES); they are translated here when shown. Runs stored
before codes existed hold English sentences: those are shown as they are."""

from collections.abc import Callable

from django.utils.translation import gettext as _

_TEXTS: dict[str, Callable[[dict], str]] = {
    "never_purchased": lambda p: (
        _("%(n)s customers have never purchased: they are scored as leads.") % p
    ),
    "purchase_model_fallback_few_repeaters": lambda p: (
        _(
            "Only %(n)s customers bought more than once (%(need)s needed to fit the purchase "
            "model): pooled or prior parameters were used."
        )
        % p
    ),
    "spend_model_fallback_few_repeaters": lambda p: (
        _(
            "Only %(n)s customers with repeat purchases (%(need)s needed to fit the spend "
            "model): prior parameters scaled to your average sale were used."
        )
        % p
    ),
    "purchase_model_fit_failed": lambda p: _(
        "The purchase model could not be fitted: pooled or prior parameters were used."
    ),
    "spend_model_fit_failed": lambda p: _(
        "The spend model could not be fitted: prior parameters were used."
    ),
    "purchase_model_on_bound": lambda p: _(
        "A model parameter reached its limit (customers are very alike): usable."
    ),
    "spend_model_on_bound": lambda p: _(
        "A model parameter reached its limit (customers are very alike): usable."
    ),
    "time_zone_invalid": lambda p: (
        _(
            "The time zone “%(zone)s” is not valid: days were counted in %(used)s. Choose "
            "the right time zone in the business settings."
        )
        % p
    ),
    "ignored_after_as_of": lambda p: (
        _("%(n)s purchases dated after the as-of day were left out.") % p
    ),
    "money_clipped": lambda p: (
        _(
            "%(n)s customers have amounts too large to store (%(field)s): they were capped. "
            "Check those customers' purchases for typing errors."
        )
        % p
    ),
    "non_finite_replaced": lambda p: (
        _("%(n)s values could not be computed (%(field)s) and were set to 0.") % p
    ),
    "segment_softened": lambda p: (
        _(
            "%(n)s customers the segment grid calls hibernating or lost are shown as "
            "“about to sleep”: they buy often, so their silence is not yet unusual."
        )
        % p
    ),
}


def translate_warning(warning: dict | str) -> str:
    if isinstance(warning, str):
        return warning  # stored before warnings had codes
    render = _TEXTS.get(warning.get("code", ""))
    if render is None:
        return str(warning.get("code", warning))
    try:
        return render(dict(warning.get("params") or {}))
    except (KeyError, TypeError, ValueError):
        return str(warning.get("code"))
