"""Extra report sections from other apps, without reports importing them.

Member cards (`membership`) sit below reports, so they cannot import this module; instead a
section is a dotted path in `settings.XW_REPORT_SECTIONS` (wiring lives in settings), or is
registered here by an app above reports. Each is a callable

    section(*, business, weeks: list[tuple[datetime, datetime]]) -> dict | None

`weeks` holds [start, end) of the report week first, then the 4 weeks before it. It returns
None (nothing to say) or a JSON-able dict:

    {"key": "stored_value", "title": "Member cards",   # title already translatable text
     "rows": [{"label": "Stored value outstanding", "kind": "money" | "count" | "percent",
               "values": [this week, last week, 2 weeks ago, 3 weeks ago, 4 weeks ago]}]}

Values are numbers or decimal strings; the report shows this week, last week and the average of
the 4 weeks before, with the same one-line reading as every other figure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

Section = Callable[..., dict[str, Any] | None]
REPORT_SECTIONS: list[Section] = []


def register_report_section(section: Section) -> None:
    if section not in REPORT_SECTIONS:
        REPORT_SECTIONS.append(section)


def report_sections() -> list[Section]:
    configured = [import_string(path) for path in settings.XW_REPORT_SECTIONS]
    return [*configured, *REPORT_SECTIONS]


def extra_sections(*, business, weeks: list[tuple[datetime, datetime]]) -> list[dict]:
    out = []
    for section in report_sections():
        result = section(business=business, weeks=weeks)
        if result:
            out.append(result)
    return out
