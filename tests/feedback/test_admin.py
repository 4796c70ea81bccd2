"""Feedback in the back office: triage, monthly figures, link and QR code, tenant isolation."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback.links import resolve_token
from feedback.models import Feedback, FeedbackRequest, FeedbackSettings
from feedback.services import feedback_settings_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:feedback_feedback_changelist")
EVIL = '<script>alert("xss")</script>'


def change_url(obj) -> str:
    return reverse(f"admin:feedback_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def tea_feedback(tea):
    customer = CustomerFactory(business=tea.business, name="茶客甲")
    return Feedback.objects.create(
        business=tea.business, customer=customer, nps=2, stars=1, topic="service",
        comment="茶馆的评论 " + EVIL, request="茶馆的请求",
    )  # fmt: skip


@pytest.fixture
def salon_feedback(salon):
    customer = CustomerFactory(business=salon.business, name="沙龙秘密客户")
    return Feedback.objects.create(
        business=salon.business, customer=customer, nps=0, stars=1, topic="staff",
        comment="沙龙的秘密评论", request="沙龙的秘密请求", phone="+8613700000000",
    )  # fmt: skip


def test_owner_sees_own_feedback_not_salons(client_for, tea, tea_feedback, salon_feedback):
    client = client_for(tea.owner)
    html = client.get(LIST).content.decode()
    assert "茶馆的评论" in html
    assert "沙龙的秘密评论" not in html
    assert "沙龙秘密客户" not in html


@pytest.mark.parametrize(
    "query",
    [
        "?nps_group=detractor",
        "?stars=1",
        "?topic__exact=staff",
        "?status__exact=new",
        "?linked=yes",
        "?q=沙龙",
        "?q=13700000000",
        f"?business__id__exact={0}",
    ],
)
def test_filters_and_search_never_show_salon(client_for, tea, tea_feedback, salon_feedback, query):
    html = client_for(tea.owner).get(LIST + query).content.decode()
    assert "沙龙的秘密" not in html


def test_guessed_salon_ids_bounce(client_for, tea, salon, tea_feedback, salon_feedback):
    client = client_for(tea.owner)
    assert client.get(change_url(salon_feedback)).status_code == 302  # to the index
    for url in [
        change_url(salon_feedback),
        reverse("admin:feedback_feedback_history", args=[salon_feedback.pk]),
        reverse("admin:feedback_feedback_delete", args=[salon_feedback.pk]),
    ]:
        response = client.get(url, follow=True)
        assert "沙龙的秘密" not in response.content.decode()
    # Posting a reply to salon's feedback changes nothing.
    client.post(change_url(salon_feedback), {"status": "resolved", "reply": "hacked"})
    salon_feedback.refresh_from_db()
    assert (salon_feedback.status, salon_feedback.reply) == ("new", "")
    # The tea owner's own change page works.
    assert client.get(change_url(tea_feedback)).status_code == 200


def test_salon_owner_sees_only_salon(client_for, salon, tea_feedback, salon_feedback):
    html = client_for(salon.owner).get(LIST).content.decode()
    assert "沙龙的秘密评论" in html
    assert "茶馆的评论" not in html


def test_operator_sees_all(admin_client, tea_feedback, salon_feedback):
    html = admin_client.get(LIST).content.decode()
    assert "茶馆的评论" in html
    assert "沙龙的秘密评论" in html


def test_list_columns_and_detractors_first(client_for, tea):
    now = timezone.now()
    Feedback.objects.create(business=tea.business, nps=10, comment="promoter-new", created_at=now)
    Feedback.objects.create(
        business=tea.business, nps=1, comment="detractor-old", created_at=now - timedelta(days=9)
    )
    Feedback.objects.create(
        business=tea.business, nps=1, comment="detractor-new", created_at=now - timedelta(days=1)
    )
    html = client_for(tea.owner).get(LIST).content.decode()
    assert html.index("detractor-new") < html.index("detractor-old") < html.index("promoter-new")
    for column in [
        "created_at", "nps", "nps_group_label", "stars_label", "topic", "status", "customer",
        "comment_excerpt",
    ]:  # fmt: skip
        assert f'class="sortable column-{column}' in html or f'class="column-{column}' in html


def test_admin_escapes_customer_text(client_for, tea, tea_feedback):
    client = client_for(tea.owner)
    for url in [LIST, change_url(tea_feedback)]:
        html = client.get(url).content.decode()
        assert EVIL not in html
        assert "&lt;script&gt;" in html


def test_reply_sets_replied_by_and_status(client_for, tea, tea_feedback):
    response = client_for(tea.staff).post(
        change_url(tea_feedback), {"status": "in_progress", "reply": "已联系客户，明天回访"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tea_feedback.refresh_from_db()
    assert tea_feedback.reply == "已联系客户，明天回访"
    assert tea_feedback.replied_by == tea.staff
    assert tea_feedback.replied_at is not None
    assert tea_feedback.status == "in_progress"
    # What the customer wrote cannot be edited through the form.
    client_for(tea.owner).post(
        change_url(tea_feedback), {"status": "resolved", "reply": tea_feedback.reply, "nps": "10"}
    )
    tea_feedback.refresh_from_db()
    assert (tea_feedback.nps, tea_feedback.status) == (2, "resolved")
    assert tea_feedback.replied_by == tea.staff


def test_no_add_button_for_feedback(client_for, tea):
    assert client_for(tea.owner).get(reverse("admin:feedback_feedback_add")).status_code == 403


def test_changelist_shows_nps_and_stars_per_month(client_for, tea, salon):
    now = timezone.now()
    for nps, stars in [(10, 5), (9, 4), (5, 3), (8, None)]:
        Feedback.objects.create(business=tea.business, nps=nps, stars=stars, created_at=now)
    Feedback.objects.create(business=salon.business, nps=0, stars=1, created_at=now)
    response = client_for(tea.owner).get(LIST)
    months = response.context["xw_months"]
    assert len(months) == 12
    assert (months[0].responses, months[0].nps) == (4, 25)  # 50 % − 25 %
    assert str(months[0].avg_stars) == "4.0"
    html = response.content.decode()
    assert 'id="xw-feedback-months"' in html
    this_month = timezone.localtime(now).strftime("%Y-%m")
    assert f'<td class="xw-nps" data-month="{this_month}">25</td>' in html
    assert f'<td class="xw-stars" data-month="{this_month}">4.0</td>' in html
    assert f'<td class="xw-responses" data-month="{this_month}">4</td>' in html


def test_customer_timeline_shows_feedback(client_for, tea, tea_feedback):
    url = reverse("admin:customers_customer_change", args=[tea_feedback.customer_id])
    html = client_for(tea.owner).get(url).content.decode()
    assert 'class="xw-feedback"' in html
    entry_url = reverse("admin:feedback_feedback_change", args=[tea_feedback.pk])
    assert f'<a href="{entry_url}">' in html  # the entry opens from the timeline
    assert "NPS 2" in html
    assert "茶馆的评论" in html
    assert EVIL not in html


# Link and QR code ---------------------------------------------------------------------------


def test_settings_page_shows_link_and_qr(client_for, tea):
    client = client_for(tea.owner)
    listing = client.get(reverse("admin:feedback_feedbacksettings_changelist"))
    assert listing.status_code == 200
    fs = FeedbackSettings.objects.get(business=tea.business)  # created for the owner
    html = client.get(change_url(fs)).content.decode()
    assert 'id="xw-feedback-link"' in html
    link = html.split('id="xw-feedback-link" href="')[1].split('"')[0]
    token = link.split("/f/")[1].rstrip("/")
    assert resolve_token(token).business == tea.business
    qr_svg = reverse("admin:feedback_feedbacksettings_qr", args=[fs.pk, "svg"])
    assert f'<img id="xw-feedback-qr" src="{qr_svg}"' in html

    svg = client.get(qr_svg)
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
    png = client.get(
        reverse("admin:feedback_feedbacksettings_qr", args=[fs.pk, "png"]) + "?download=1"
    )
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    assert 'filename="feedback-tea.png"' in png["Content-Disposition"]


def test_qr_views_404_for_another_business(client_for, tea, salon):
    salon_fs = feedback_settings_for(salon.business)
    client = client_for(tea.owner)
    for fmt in ("svg", "png"):
        url = reverse("admin:feedback_feedbacksettings_qr", args=[salon_fs.pk, fmt])
        assert client.get(url).status_code == 404
    renew = reverse("admin:feedback_feedbacksettings_new_link", args=[salon_fs.pk])
    assert client.post(renew, {"confirm": "yes"}).status_code == 404
    salon_fs.refresh_from_db()
    assert salon_fs.link_version == 1
    assert client.get(change_url(salon_fs), follow=True).status_code == 200
    assert (
        "美尚发艺"
        not in client.get(reverse("admin:feedback_feedbacksettings_changelist")).content.decode()
    )


def test_qr_views_need_a_login(client, tea):
    fs = feedback_settings_for(tea.business)
    response = client.get(reverse("admin:feedback_feedbacksettings_qr", args=[fs.pk, "svg"]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_owner_makes_a_new_link_staff_cannot(client_for, tea):
    fs = feedback_settings_for(tea.business)
    renew = reverse("admin:feedback_feedbacksettings_new_link", args=[fs.pk])
    assert client_for(tea.staff).post(renew, {"confirm": "yes"}).status_code == 403
    assert client_for(tea.staff).get(change_url(fs)).status_code == 200  # staff may print it
    fs.refresh_from_db()
    assert fs.link_version == 1

    owner = client_for(tea.owner)
    page = owner.get(renew)  # a confirmation page first: nothing changes yet
    assert page.status_code == 200
    assert "stops working" in page.content.decode()
    assert owner.post(renew).status_code == 200  # a bare post (one tap) only asks again
    fs.refresh_from_db()
    assert fs.link_version == 1
    response = owner.post(renew, {"confirm": "yes"})
    assert response.status_code == 302
    fs.refresh_from_db()
    assert fs.link_version == 2


def test_new_link_admin_action(client_for, tea, salon):
    fs = feedback_settings_for(tea.business)
    salon_fs = feedback_settings_for(salon.business)
    client = client_for(tea.owner)
    changelist = reverse("admin:feedback_feedbacksettings_changelist")
    selection = {"action": "new_link", "_selected_action": [fs.pk, salon_fs.pk]}
    page = client.post(changelist, selection)
    assert page.status_code == 200  # asks first
    assert "美尚发艺" not in page.content.decode()
    fs.refresh_from_db()
    assert fs.link_version == 1
    client.post(changelist, {**selection, "confirm": "yes"})
    fs.refresh_from_db()
    salon_fs.refresh_from_db()
    assert (fs.link_version, salon_fs.link_version) == (2, 1)


def test_feedback_requests_list_is_scoped(client_for, tea, salon):
    tea_c = CustomerFactory(business=tea.business, name="茶请求客户")
    salon_c = CustomerFactory(business=salon.business, name="沙龙请求客户")
    for c in (tea_c, salon_c):
        FeedbackRequest.objects.create(
            business=c.business, customer=c, due_at=timezone.now(), reason="no_consent"
        )
    html = client_for(tea.owner).get(reverse("admin:feedback_feedbackrequest_changelist"))
    html = html.content.decode()
    assert "茶请求客户" in html
    assert "沙龙请求客户" not in html
    assert "No marketing consent" in html
