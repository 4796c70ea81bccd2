"""The hook for member cards: a lower app adds a section through settings, reports never
imports it."""

import pytest
from django.utils import translation

from reports.presenting import present
from reports.services import weekly_report_build

from .conftest import NOW, WEEK

CALLS = []


def stored_value_section(*, business, weeks):
    CALLS.append((business.slug, len(weeks)))
    return {
        "key": "stored_value",
        "title": "Member cards",
        "rows": [
            {
                "label": "Stored value outstanding",
                "kind": "money",
                "values": ["1200.00", "1000.00", "900.00", "800.00", "700.00"],
            }
        ],
    }


@pytest.mark.django_db
def test_a_configured_section_is_stored_and_shown(known_week, settings):
    settings.XW_REPORT_SECTIONS = ["tests.reports.test_sections.stored_value_section"]
    report = weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)
    assert CALLS[-1] == ("tea", 5)
    assert report.data["sections"][0]["key"] == "stored_value"
    with translation.override("en"):
        section = present(report)["sections"][0]
    row = section["rows"][0]
    assert (row["this"], row["last"], row["avg"]) == ("¥1,200.00", "¥1,000.00", "¥850.00")
    assert row["reading"] == "Up 20 % on last week. Better than the 4-week average."
