"""A business's time zone is a real zoneinfo name (issue 9, item 4): a select in the admin, a
clear error in forms and commands, and a stored bad name never breaks scoring silently."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Business
from segmentation.models import ScoringRun
from segmentation.run_warnings import translate_warning
from segmentation.services import scoring_run_execute
from tests.segmentation.conftest import make_history


@pytest.mark.parametrize("typed", ["Asia/Shangai", "Beijing", "UTC+8", ""])
def test_unknown_time_zone_names_are_refused(tea, typed):
    tea.business.time_zone = typed
    with pytest.raises(ValidationError) as caught:
        tea.business.full_clean()
    assert "time_zone" in caught.value.message_dict


def test_admin_offers_a_select_and_refuses_a_typed_name(tea, client_for):
    client = client_for(tea.owner)
    url = reverse("admin:accounts_business_change", args=[tea.business.pk])
    page = client.get(url).content.decode()
    assert '<select name="time_zone"' in page
    assert '<option value="Europe/London"' in page
    data = {
        "name": tea.business.name, "currency": "CNY", "time_zone": "Asia/Shangai",
        "phone_region": "CN", "language": "zh-hans", "default_margin_pct": "40",
    }  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Asia/Shangai" in response.content.decode()
    tea.business.refresh_from_db()
    assert tea.business.time_zone == "Asia/Shanghai"
    response = client.post(url, {**data, "time_zone": "Europe/London"})
    assert response.status_code == 302
    tea.business.refresh_from_db()
    assert tea.business.time_zone == "Europe/London"


def test_create_business_command_names_the_bad_time_zone(db):
    with pytest.raises(CommandError, match="Beijing"):
        call_command("create_business", "tz", name="T", owner="tz_owner", time_zone="Beijing")
    assert not Business.objects.filter(slug="tz").exists()


def test_scoring_a_business_with_a_stored_bad_zone_runs_and_says_so(tea):
    make_history(tea.business, seed=1)
    Business.objects.filter(pk=tea.business.pk).update(time_zone="Asia/Shangai")
    business = Business.objects.get(pk=tea.business.pk)
    run = scoring_run_execute(business=business, as_of=date(2025, 12, 31))
    assert run.status == ScoringRun.Status.SUCCEEDED
    assert run.customers_scored > 0
    warning = next(w for w in run.warnings if w["code"] == "time_zone_invalid")
    assert warning["params"]["zone"] == "Asia/Shangai"
    assert "Asia/Shanghai" in translate_warning(warning)
    # And without an as-of date (today in the business's zone).
    assert scoring_run_execute(business=business).status == ScoringRun.Status.SUCCEEDED
