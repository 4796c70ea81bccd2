"""Chinese everywhere an owner looks in the first hour; no error page in bare English."""

import json
import re

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from feedback.models import Feedback
from segmentation.models import ScoringRun
from segmentation.services import scoring_run_execute
from tests.factories import CustomerFactory
from tests.segmentation.conftest import make_history

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}


def test_favicon_is_an_icon_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response)[:4] == b"\x00\x00\x01\x00"  # ICO header


def test_forbidden_page_is_translated(tea, client_for):
    response = client_for(tea.owner).get(reverse("admin:auth_user_changelist"), **ZH)
    assert response.status_code == 403
    body = response.content.decode()
    assert "无权访问" in body
    assert "403 Forbidden" not in body


def test_not_found_page_is_translated(client):
    response = client.get("/no-such-page/", **ZH)
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_calendar_day_letters_are_chinese(tea, client_for):
    body = client_for(tea.owner).get(reverse("admin:jsi18n"), **ZH).content.decode()
    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", body, re.S).group(1))
    letters = [catalog[f"one letter {day}\x04{letter}"] for day, letter in (
        ("Monday", "M"), ("Tuesday", "T"), ("Sunday", "S"))]  # fmt: skip
    assert letters == ["一", "二", "日"]


def test_team_member_add_page_is_translated(tea, client_for):
    body = client_for(tea.owner).get(reverse("admin:accounts_teammember_add"), **ZH)
    assert "创建用户后" in body.content.decode()


def test_feedback_language_is_named_not_coded(tea, client_for):
    entry = Feedback.objects.create(
        business=tea.business, nps=9, language="zh-hans", created_at=timezone.now()
    )
    url = reverse("admin:feedback_feedback_change", args=[entry.pk])
    body = client_for(tea.owner).get(url, **ZH).content.decode()
    assert "简体中文" in body
    assert "zh-hans</div>" not in body


def test_scoring_run_page_shows_no_raw_json(tea, client_for):
    make_history(tea.business, customers=30)
    run = scoring_run_execute(business=tea.business, trigger=ScoringRun.Trigger.MANUAL)
    url = reverse("admin:segmentation_scoringrun_change", args=[run.pk])
    body = client_for(tea.owner).get(url, **ZH).content.decode()
    assert "购买模型" in body
    assert "&quot;bgnbd&quot;" not in body
    assert "[&quot;" not in body  # warnings not as a JSON list

    listing = client_for(tea.owner).get(reverse("admin:customers_customer_changelist"), **ZH)
    cells = re.findall(r'<td class="field-recommended">(.*?)</td>', listing.content.decode())
    assert cells
    for cell in cells:
        text = re.sub(r"<[^>]+>", "", cell)
        assert not {"：", ":"} & set(text), cell


def test_kombu_control_files_stay_under_var():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        assert str(options["control_folder"]).startswith(str(settings.CELERY_DATA_DIR))


def test_customer_factory_label_for_pickers(tea):
    assert str(CustomerFactory(business=tea.business, name="沈刚", phone="13800138000")) == (
        "沈刚 (…8000)"
    )
