"""The maths module speaks plain English (it has no Django); owners read its warnings here,
in their language. Unknown warnings are shown as they are."""

import re
from collections.abc import Callable

from django.utils.translation import gettext as _

_PATTERNS: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (
        re.compile(r"^(\d+) customer\(s\) have never purchased"),
        lambda m: (
            _("%(n)s customers have never purchased: they are scored as leads.") % {"n": m[1]}
        ),
    ),
    (
        re.compile(r"^Only (\d+) customer\(s\) bought more than once \(need (\d+)\)"),
        lambda m: (
            _(
                "Only %(n)s customers bought more than once (%(need)s needed to fit the purchase "
                "model): pooled or prior parameters were used."
            )
            % {"n": m[1], "need": m[2]}
        ),
    ),
    (
        re.compile(r"^Only (\d+) customer\(s\) with repeat purchases .*\(need (\d+)\)"),
        lambda m: (
            _(
                "Only %(n)s customers with repeat purchases (%(need)s needed to fit the spend "
                "model): prior parameters scaled to your average sale were used."
            )
            % {"n": m[1], "need": m[2]}
        ),
    ),
    (
        re.compile(r"^Purchase model \(BG/NBD\) fit failed"),
        lambda m: _(
            "The purchase model could not be fitted: pooled or prior parameters were used."
        ),
    ),
    (
        re.compile(r"^Spend model \(Gamma-Gamma\) fit failed"),
        lambda m: _("The spend model could not be fitted: prior parameters were used."),
    ),
    (
        re.compile(r"^(Purchase|Spend) model .*reached the search bound"),
        lambda m: _("A model parameter reached its limit (customers are very alike): usable."),
    ),
    (
        re.compile(r"^The business's time zone '(.*)' is not a valid zone name; .* in (\S+)\."),
        lambda m: (
            _(
                "The time zone “%(zone)s” is not valid: days were counted in %(used)s. Choose "
                "the right time zone in the business settings."
            )
            % {"zone": m[1], "used": m[2]}
        ),
    ),
    (
        re.compile(r"^Ignored (\d+) transaction\(s\) dated after"),
        lambda m: _("%(n)s purchases dated after the as-of day were left out.") % {"n": m[1]},
    ),
]


def translate_warning(text: str) -> str:
    for pattern, render in _PATTERNS:
        match = pattern.match(text)
        if match:
            return render(match)
    return text
