"""The weekly report in the shop app (issue 14 §1): owner only, latest first, earlier weeks
browsable, the 10 with the most value at stake one tap from a call and from their card."""

from datetime import timedelta

import pytest
from django.urls import reverse

from reports.services import weekly_report_build
from tests.factories import CustomerFactory
from tests.reports.conftest import NOW, WEEK, known_week  # noqa: F401

pytestmark = pytest.mark.django_db
EARLIER = WEEK - timedelta(days=7)


@pytest.fixture
def two_reports(tea, known_week):  # noqa: F811
    earlier = weekly_report_build(business=tea.business, week_start=EARLIER, now=NOW)
    latest = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    return earlier, latest


def test_owner_sees_the_latest_report_with_call_and_card_links(client_for, tea, two_reports):
    _earlier, latest = two_reports
    html = client_for(tea.owner).get(reverse("shop:reports")).content.decode()
    assert latest.week_label in html
    assert "Most value at stake" in html
    at_stake = html.split("Most value at stake")[1].split("<h2>")[0]
    names = [r["name"] for r in latest.data["at_stake"]]
    assert len(names) >= 2
    assert sorted(names, key=at_stake.index) == names  # the report's order, highest first
    for customer_id, phone in [(r["customer_id"], r["phone"]) for r in latest.data["at_stake"]]:
        assert f'href="tel:{phone}"' in at_stake
        assert f'href="{reverse("shop:customer", args=[customer_id])}"' in at_stake
    # the weeks, latest first, each one tap away
    weeks = html.split('id="h-weeks"')[1]
    assert weeks.index("2026-W10") < weeks.index("2026-W09")
    assert reverse("shop:report", args=["2026-W09"]) in weeks


def test_an_earlier_week_is_browsable_and_unknown_weeks_are_404(client_for, tea, two_reports):
    client = client_for(tea.owner)
    html = client.get(reverse("shop:report", args=["2026-W09"])).content.decode()
    assert "Weekly report 2026-W09" in html
    assert reverse("shop:report", args=["2026-W10"]) in html  # later →
    for week in ("2026-W08", "2026-W99", "junk", "9" * 300):
        assert client.get(reverse("shop:report", args=[week])).status_code == 404, week


def test_no_report_yet_says_so(client_for, tea):
    response = client_for(tea.owner).get(reverse("shop:reports"))
    assert response.status_code == 200
    assert "No weekly report yet" in response.content.decode()


def test_the_owner_screen_links_to_the_reports(client_for, tea):
    html = client_for(tea.owner).get(reverse("shop:owner")).content.decode()
    assert f'href="{reverse("shop:reports")}"' in html


def test_staff_get_403(client_for, tea, two_reports):
    client = client_for(tea.staff)
    for url in (reverse("shop:reports"), reverse("shop:report", args=["2026-W10"])):
        assert client.get(url).status_code == 403
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403


def test_another_business_report_is_never_shown(client_for, tea, salon, two_reports):
    CustomerFactory(business=salon.business, name="沙龙秘密客户")
    weekly_report_build(business=salon.business, week_start=WEEK - timedelta(days=14), now=NOW)
    client = client_for(tea.owner)
    assert client.get(reverse("shop:report", args=["2026-W08"])).status_code == 404
    html = client.get(reverse("shop:reports")).content.decode()
    assert "2026-W08" not in html
    assert salon.business.name not in html
    salon_html = client_for(salon.owner).get(reverse("shop:reports")).content.decode()
    assert "2026-W08" in salon_html
    assert "老客A" not in salon_html


def test_report_screen_needs_at_most_10_queries_and_fits_14_kb(
    client_for, tea, two_reports, django_assert_max_num_queries
):
    import gzip

    from django.contrib.staticfiles import finders

    css = gzip.compress(open(finders.find("shop/app.css"), "rb").read())  # noqa: SIM115
    client = client_for(tea.owner)
    for url in (reverse("shop:reports"), reverse("shop:report", args=["2026-W09"])):
        client.get(url)
        with django_assert_max_num_queries(10):
            response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert response["Content-Encoding"] == "gzip"
        assert len(response.content) + len(css) <= 14 * 1024, (url, len(response.content))
