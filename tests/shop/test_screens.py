"""The phone app's screens through the test client: what each shows and does."""

import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, FollowUp, Interaction, Purchase
from feedback.models import Feedback
from tests.factories import CustomerFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


def test_anonymous_user_is_sent_to_the_app_login(client):
    response = client.get(reverse("shop:today"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("shop:login"))


def test_login_page_signs_in_and_lands_on_today(client, tea):
    response = client.post(
        reverse("shop:login"), {"username": "tea_owner", "password": "pw-xiaowei-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:today")


def test_today_shows_follow_ups_calls_birthdays_feedback_and_sales(client_for, tea, tea_day):
    html = client_for(tea.staff).get(reverse("shop:today")).content.decode()
    assert "问问新茶" in html  # overdue follow-up
    assert "王芳" in html
    assert "likely slipping away" in html
    assert "张敏" in html  # birthday in two days
    assert "茶凉了" in html  # detractor waiting for a reply
    assert "¥88.00" in html  # today's sales
    # the steady champion is not worth a call now
    calls = html.split('id="h-call"')[1].split("</section>")[0]
    assert "李雷" not in calls


def test_search_finds_by_last_four_whole_number_name_and_card(client_for, tea, tea_day):
    client = client_for(tea.staff)
    url = reverse("shop:search")
    for term in ("8000", "138 0013 8000", "+86 138-0013-8000", "王", "0088"):
        html = client.get(url, {"q": term}, HTTP_HX_REQUEST="true").content.decode()
        assert "王芳" in html, term
        assert "<html" not in html  # htmx gets the results only
    assert "李雷" not in client.get(url, {"q": "8000"}).content.decode()
    assert "No customer matches" in client.get(url, {"q": "zzz"}).content.decode()


def test_search_bounds_a_huge_term(client_for, tea):
    response = client_for(tea.staff).get(reverse("shop:search"), {"q": "9" * 5000})
    assert response.status_code == 200


def _sale_form(client, **params):
    html = client.get(reverse("shop:sale"), params).content.decode()
    return re.search(r'name="key" value="([0-9a-f-]+)"', html).group(1)


def test_checkout_for_a_found_customer_records_one_sale_even_when_posted_twice(
    client_for, tea, tea_day
):
    client = client_for(tea.staff)
    regular = tea_day["regular"]
    key = _sale_form(client, customer=regular.pk)
    post = {"key": key, "customer": regular.pk, "amount": "58.5", "items": "龙井"}
    first = client.post(reverse("shop:sale"), post)
    second = client.post(reverse("shop:sale"), post)  # double tap / resent after a timeout
    assert first.status_code == second.status_code == 302
    assert first["Location"] == reverse("shop:customer", args=[regular.pk])
    sales = Purchase.objects.filter(customer=regular)
    assert sales.count() == 1
    sale = sales.get()
    assert sale.amount == Decimal("58.50")
    assert sale.external_id == f"app-{key}"
    assert sale.items == "龙井"
    assert "already recorded" in client.get(second["Location"]).content.decode()


def test_checkout_new_customer_inline_with_name_and_phone(client_for, tea):
    client = client_for(tea.staff)
    key = _sale_form(client)
    post = {"key": key, "name": "新客", "phone": "139 1234 5678", "amount": "20",
            "served_by": str(tea.staff.pk)}  # fmt: skip
    assert client.post(reverse("shop:sale"), post).status_code == 302
    assert client.post(reverse("shop:sale"), post).status_code == 302
    customer = Customer.objects.get(business=tea.business, name="新客")
    assert customer.phone == "+8613912345678"
    purchase = Purchase.objects.get(customer=customer)
    assert purchase.served_by == tea.staff


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"amount": "-1"}, "greater than or equal to 0"),
        ({"amount": "abc"}, "Enter a number"),
        ({"amount": "99999999"}, "less than or equal to"),
        ({"amount": "10", "name": "", "phone": ""}, "type a new customer"),
        ({"amount": "10", "name": "x", "phone": "12"}, "phone number"),
    ],
)
def test_checkout_bad_input_says_why_and_stores_nothing(client_for, tea, post, message):
    client = client_for(tea.owner)
    data = {"key": str(uuid.uuid4()), "name": "新客", "phone": "13912345678", **post}
    response = client.post(reverse("shop:sale"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Purchase.objects.exists()


def test_checkout_rejects_a_served_by_from_another_business(client_for, tea, salon, tea_day):
    client = client_for(tea.owner)
    data = {"key": str(uuid.uuid4()), "customer": tea_day["regular"].pk, "amount": "5",
            "served_by": str(salon.staff.pk)}  # fmt: skip
    assert client.post(reverse("shop:sale"), data).status_code == 400
    assert not Purchase.objects.filter(customer=tea_day["regular"]).exists()


def test_customer_card_plain_words_actions_and_timeline(client_for, tea, tea_day):
    regular = tea_day["regular"]
    for n in range(25):
        PurchaseFactory(customer=regular, amount=Decimal(n + 1), items=f"item{n}")
    client = client_for(tea.staff)
    html = client.get(reverse("shop:customer", args=[regular.pk])).content.decode()
    assert "Comes about every 3 weeks, last came 9 weeks ago — likely slipping away." in html
    assert "chance not to come back in 90 days: 80 %" in html
    assert 'href="tel:+8613800138000"' in html
    assert "sms:+8613800138000?body=" in html
    assert 'data-id="wangfang88"' in html
    assert "Call to win them back" in html
    assert html.count('class="ev ') == 20  # 20 at a time
    page2 = client.get(reverse("shop:timeline", args=[regular.pk]), {"page": 2}).content.decode()
    assert "item0" in page2
    assert "item24" not in page2


def test_card_adds_note_interaction_with_cost_and_follow_up(client_for, tea, tea_day):
    regular = tea_day["regular"]
    client = client_for(tea.staff)
    client.post(reverse("shop:add_note", args=[regular.pk]), {"summary": "喜欢绿茶"})
    client.post(
        reverse("shop:add_interaction", args=[regular.pk]),
        {"kind": "service", "summary": "泡茶", "cost_minutes": "30", "cost_amount": "12.5"},
    )
    tomorrow = timezone.localdate() + timezone.timedelta(days=1)
    client.post(
        reverse("shop:add_follow_up", args=[regular.pk]),
        {"task": "送新茶样", "due_on": tomorrow.isoformat(), "assigned_to": str(tea.owner.pk)},
    )
    assert Interaction.objects.get(customer=regular, kind="note").summary == "喜欢绿茶"
    service = Interaction.objects.get(customer=regular, kind="service")
    assert (service.cost_minutes, service.cost_amount, service.staff) == (
        30,
        Decimal("12.50"),
        tea.staff,
    )
    assert FollowUp.objects.get(customer=regular, task="送新茶样").assigned_to == tea.owner
    bad = client.post(
        reverse("shop:add_interaction", args=[regular.pk]), {"kind": "x", "cost_minutes": "-3"}
    )
    assert bad.status_code == 400


def test_customer_list_filters_sorted_by_value_paged_by_30(client_for, tea, tea_day):
    for n in range(35):
        CustomerFactory(business=tea.business, name=f"客{n:02d}")
    client = client_for(tea.staff)
    html = client.get(reverse("shop:customers")).content.decode()
    assert html.index("李雷") < html.index("王芳")  # net value 3000 before 1200
    assert html.count('<li><a href="/app/c/') == 30
    more = client.get(reverse("shop:customers"), {"page": 2}, HTTP_HX_REQUEST="true")
    assert more.content.decode().count('<li><a href="/app/c/') == 8
    at_risk = client.get(reverse("shop:customers"), {"at_risk": "1"}).content.decode()
    assert "王芳" in at_risk
    assert "李雷" not in at_risk
    tier = client.get(reverse("shop:customers"), {"segment": "champions"}).content.decode()
    assert "李雷" in tier
    assert "王芳" not in tier
    junk = client.get(reverse("shop:customers"), {"tier": "Z", "tag": "x", "page": "-4"})
    assert junk.status_code == 200


def test_follow_ups_mine_everyone_done_and_snooze(client_for, tea, tea_day):
    follow_up = tea_day["follow_up"]
    owner = client_for(tea.owner)
    assert "问问新茶" not in owner.get(reverse("shop:follow_ups")).content.decode()
    assert "问问新茶" in owner.get(reverse("shop:follow_ups"), {"who": "all"}).content.decode()
    staff = client_for(tea.staff)
    response = staff.post(
        reverse("shop:follow_up_snooze", args=[follow_up.pk]), {"days": "7"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    follow_up.refresh_from_db()
    assert follow_up.due_on == timezone.localdate() + timezone.timedelta(days=7)
    assert (
        staff.post(reverse("shop:follow_up_snooze", args=[follow_up.pk]), {"days": "3"}).status_code
        == 400
    )
    staff.post(reverse("shop:follow_up_done", args=[follow_up.pk]))
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None


def test_feedback_inbox_detractors_first_and_reply(client_for, tea, tea_day):
    Feedback.objects.create(business=tea.business, nps=10, comment="很好喝")
    client = client_for(tea.staff)
    html = client.get(reverse("shop:feedback")).content.decode()
    assert html.index("茶凉了") < html.index("很好喝")
    entry = tea_day["feedback"]
    response = client.post(
        reverse("shop:feedback_reply", args=[entry.pk]),
        {"reply": "已道歉，送了一壶新茶", "status": "resolved"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Reply saved" in response.content.decode()
    entry.refresh_from_db()
    assert entry.reply == "已道歉，送了一壶新茶"
    assert entry.replied_by == tea.staff
    assert entry.status == "resolved"


def test_owner_screen_for_the_owner_only(client_for, tea, tea_day):
    html = client_for(tea.owner).get(reverse("shop:owner")).content.decode()
    assert "Repeat rate" in html
    assert "Team activity" in html
    assert "¥88.00" in html
    assert client_for(tea.staff).get(reverse("shop:owner")).status_code == 403
    assert client_for(tea.staff).get(reverse("shop:poster")).status_code == 403
    poster = client_for(tea.owner).get(reverse("shop:poster")).content.decode()
    assert "<svg" in poster
    assert "/f/" in poster


def test_chinese_screens(client_for, tea, tea_day):
    client = client_for(tea.staff)
    html = client.get(reverse("shop:today"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "今天" in html
    assert 'lang="zh-hans"' in html


def test_manifest_service_worker_and_offline_page(client):
    manifest = client.get(reverse("shop:manifest")).json()
    assert manifest["start_url"] == "/app/"
    assert manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    sw = client.get(reverse("shop:sw"))
    assert sw["Content-Type"].startswith("application/javascript")
    assert "/app/offline/" in sw.content.decode()
    assert "You are offline" in client.get(reverse("shop:offline")).content.decode()


def test_every_screen_first_response_fits_14_kb_compressed(client_for, tea, tea_day):
    """HTML + the stylesheet, gzip-compressed, within one 14 KB round trip (htmx is cached
    after the first visit), with full pages: 30 customers, 20 timeline events."""
    import gzip

    from django.contrib.staticfiles import finders

    for n in range(40):
        customer = CustomerFactory(business=tea.business, name=f"顾客{n:02d}号长名字测试")
        PurchaseFactory(customer=tea_day["regular"], amount=Decimal(n + 1), items="龙井" * 20)
        FollowUp.objects.create(
            business=tea.business, customer=customer, due_on=timezone.localdate(), task="回访" * 20
        )
    css = gzip.compress(open(finders.find("shop/app.css"), "rb").read())  # noqa: SIM115
    client = client_for(tea.owner)
    regular = tea_day["regular"].pk
    for url in (
        reverse("shop:today"),
        reverse("shop:search") + "?q=顾客",
        reverse("shop:sale") + f"?customer={regular}",
        reverse("shop:customer", args=[regular]),
        reverse("shop:customers"),
        reverse("shop:follow_ups") + "?who=all",
        reverse("shop:feedback"),
        reverse("shop:owner"),
        reverse("shop:poster"),
    ):
        response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert response["Content-Encoding"] == "gzip", url
        assert len(response.content) + len(css) <= 14 * 1024, (url, len(response.content))


def test_owner_week_counts_team_activity_and_sources(client_for, tea, tea_day):
    staff = client_for(tea.staff)
    regular = tea_day["regular"]
    post = {"key": str(uuid.uuid4()), "customer": regular.pk, "amount": "30",
            "served_by": str(tea.staff.pk)}  # fmt: skip
    staff.post(reverse("shop:sale"), post)
    staff.post(reverse("shop:add_note", args=[regular.pk]), {"summary": "喜欢乌龙"})
    staff.post(reverse("shop:follow_up_done", args=[tea_day["follow_up"].pk]))
    html = client_for(tea.owner).get(reverse("shop:owner")).content.decode()
    row = html.split('<th scope="row">tea_staff</th>')[1].split("</tr>")[0]
    assert row == "<td>1</td><td>1</td><td>1</td>"
    assert "Walk-in" in html  # new customers by source


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_every_screen_needs_at_most_10_queries(
    client_for, tea, tea_day, django_assert_max_num_queries, role
):
    client = client_for(getattr(tea, role))
    regular = tea_day["regular"].pk
    urls = [
        reverse("shop:today"),
        reverse("shop:search") + "?q=8000",
        reverse("shop:search") + "?q=王",
        reverse("shop:sale") + f"?customer={regular}",
        reverse("shop:customer", args=[regular]),
        reverse("shop:timeline", args=[regular]) + "?page=2",
        reverse("shop:customers"),
        reverse("shop:follow_ups") + "?who=all",
        reverse("shop:feedback"),
    ]
    if role == "owner":
        urls.append(reverse("shop:owner"))
    for url in urls:
        client.get(url)  # warm the session and caches, as a second visit would
        with django_assert_max_num_queries(10):
            assert client.get(url).status_code == 200


def test_junk_ids_and_parameters_are_404_or_400_never_500(client_for, tea, tea_day):
    client = client_for(tea.owner)
    huge = "9" * 30
    for url in (
        f"/app/c/{huge}/",
        f"/app/c/{huge}/timeline/",
        f"/app/sale/?customer={huge}",
        "/app/sale/?customer=abc",
        f"/app/customers/?tag={huge}&page={huge}&segment={'x' * 500}",
        "/app/customers/?status=nope&tier=%00",
        "/app/search/?q=%00%00",
        "/app/follow-ups/?who=%ff",
    ):
        assert client.get(url).status_code in {200, 400, 404}, url
    for url in (f"/app/follow-ups/{huge}/done/", f"/app/feedback/{huge}/reply/"):
        assert client.post(url, {"status": "resolved"}).status_code == 404, url
    post = {"key": "not-a-uuid", "customer": huge, "amount": "1e400"}
    assert client.post("/app/sale/", post).status_code in {400, 404}
    assert not Purchase.objects.filter(business=tea.business, amount=1).exists()
