"""The public page /f/<token>/: happy paths, bad input, abuse protections."""

import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from feedback.links import BUSINESS_SALT, form_path
from feedback.models import CustomerFeedbackLink, Feedback
from feedback.services import feedback_link_renew, feedback_settings_for
from tests.factories import CustomerFactory

from .conftest import business_path, customer_path, fresh_address, post_feedback

pytestmark = pytest.mark.django_db


def thanks_of(path: str) -> str:
    return path + "thanks/"


# Happy paths --------------------------------------------------------------------------------


def test_business_link_page_shows_business_name_and_form(client, tea):
    response = client.get(business_path(tea.business))
    assert response.status_code == 200
    html = response.content.decode()
    assert "清风茶馆" in html
    assert 'name="viewport"' in html
    assert html.count('name="nps"') == 11
    assert 'name="phone"' in html  # business link: optional phone
    assert 'name="csrfmiddlewaretoken"' in html
    assert "<script" not in html  # no JavaScript needed to submit


def test_business_link_post_stores_feedback_and_redirects_to_thanks(client, tea):
    path = business_path(tea.business)
    response = post_feedback(
        client, path, nps="9", stars="5", topic="staff", comment="茶很好喝", request="想要新茶单"
    )
    assert response.status_code == 302
    assert response["Location"] == thanks_of(path)
    feedback = Feedback.objects.get()
    assert feedback.business == tea.business
    assert (feedback.nps, feedback.stars, feedback.topic) == (9, 5, "staff")
    assert (feedback.comment, feedback.request) == ("茶很好喝", "想要新茶单")
    assert feedback.link_kind == "business"
    assert feedback.customer is None
    assert feedback.status == "new"

    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "茶很好喝" in thanks.content.decode()
    assert "清风茶馆" in thanks.content.decode()


def test_page_speaks_chinese_or_english_from_the_browser(client, tea):
    zh = client.get(business_path(tea.business), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    en = client.get(business_path(tea.business), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="zh-hans">' in zh.content.decode()
    assert '<html lang="en">' in en.content.decode()
    client.post(
        business_path(tea.business),
        {"nps": "8"},
        REMOTE_ADDR=fresh_address(),
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )
    assert Feedback.objects.get(nps=8).language == "zh-hans"


def test_phone_of_an_existing_tea_customer_links_the_feedback(client, tea, tea_customer):
    post_feedback(client, business_path(tea.business), phone="139 0000 1111")
    feedback = Feedback.objects.get()
    assert feedback.customer == tea_customer
    assert feedback.phone == "+8613900001111"


def test_unknown_phone_stays_unlinked_and_creates_no_customer(client, tea, tea_customer):
    customers_before = Customer.objects.count()
    post_feedback(client, business_path(tea.business), phone="+86 138-1234-5678")
    feedback = Feedback.objects.get()
    assert feedback.customer is None
    assert feedback.phone == "+8613812345678"
    assert Customer.objects.count() == customers_before


def test_salon_customers_phone_on_the_tea_link_does_not_link_to_salon(client, tea, salon_customer):
    post_feedback(client, business_path(tea.business), phone="13900002222")
    feedback = Feedback.objects.get()
    assert feedback.business == tea.business
    assert feedback.customer is None
    assert Feedback.objects.filter(customer=salon_customer).count() == 0
    assert Feedback.objects.for_business(salon_customer.business).count() == 0


def test_invalid_phone_is_a_form_error_and_stores_nothing(client, tea):
    response = post_feedback(client, business_path(tea.business), phone="not a phone")
    assert response.status_code == 400
    assert "Please check the phone number" in response.content.decode()
    assert Feedback.objects.count() == 0


def test_customer_link_files_feedback_on_the_customer_once(client, tea, tea_customer):
    path = customer_path(tea_customer)
    page = client.get(path)
    assert page.status_code == 200
    assert 'name="phone"' not in page.content.decode()  # the link says who it is

    response = post_feedback(client, path, nps="3", comment="等太久了", phone="+8613812345678")
    assert response.status_code == 302
    feedback = Feedback.objects.get()
    assert feedback.customer == tea_customer
    assert feedback.link_kind == "customer"
    assert feedback.phone == ""  # a phone posted anyway is ignored
    assert CustomerFeedbackLink.objects.get().used_at is not None

    # Single use: the page and a second post say so; nothing more is stored.
    assert client.get(path).status_code == 410
    again = post_feedback(client, path, nps="10")
    assert again.status_code == 410
    assert Feedback.objects.count() == 1
    # The thank-you page still works after the link is used.
    assert client.get(thanks_of(path)).status_code == 200


def test_only_a_hash_of_the_customer_token_is_stored(tea, tea_customer):
    path = customer_path(tea_customer)
    token = path.strip("/").split("/")[-1]
    link = CustomerFeedbackLink.objects.get()
    assert token not in link.token_hash
    assert len(link.token_hash) == 64
    assert ":" not in token


# Bad input ----------------------------------------------------------------------------------


def test_100_kb_comment_is_refused_with_413_and_nothing_stored(client, tea):
    response = post_feedback(client, business_path(tea.business), comment="长" * 100_000)
    assert response.status_code == 413
    assert "too long" in response.content.decode()
    assert Feedback.objects.count() == 0


def test_comment_over_2000_characters_is_a_form_error(client, tea):
    response = post_feedback(client, business_path(tea.business), comment="a" * 2001)
    assert response.status_code == 400
    assert Feedback.objects.count() == 0


def test_2000_chinese_characters_and_a_full_request_are_accepted(client, tea):
    response = post_feedback(
        client, business_path(tea.business), comment="好" * 2000, request="茶" * 1000
    )
    assert response.status_code == 302
    assert len(Feedback.objects.get().comment) == 2000


def test_missing_nps_is_a_form_error_and_stores_nothing(client, tea):
    path = business_path(tea.business)
    response = client.post(path, {"comment": "没打分"}, REMOTE_ADDR=fresh_address())
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please choose a score from 0 to 10." in html
    assert "没打分" in html  # what was typed is kept
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize("nps", ["11", "-1", "abc", "9.5"])
def test_out_of_range_nps_is_a_form_error(client, tea, nps):
    response = post_feedback(client, business_path(tea.business), nps=nps)
    assert response.status_code == 400
    assert Feedback.objects.count() == 0


def test_forged_token_is_404(client, tea):
    for token in ["not-a-token", "eyJiIjoxLCJ2IjoxfQ:forgedsignature", "x" * 200]:
        assert client.get(form_path(token)).status_code == 404
        assert post_feedback(client, form_path(token)).status_code == 404
    assert Feedback.objects.count() == 0


def test_tampered_business_token_stores_nothing_for_tea(client, tea, salon):
    salon_token = business_path(salon.business).strip("/").split("/")[-1]
    payload, signature = salon_token.split(":", 1)
    data = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["b"] = tea.business.pk
    forged = urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    response = post_feedback(client, form_path(f"{forged}:{signature}"), comment="forged")
    assert response.status_code == 404
    assert Feedback.objects.count() == 0


def test_token_signed_with_another_salt_is_404(client, tea):
    token = signing.dumps({"b": tea.business.pk, "v": 1}, salt="other", compress=False)
    assert post_feedback(client, form_path(token)).status_code == 404
    token_ok = signing.dumps({"b": tea.business.pk, "v": 1}, salt=BUSINESS_SALT, compress=False)
    assert post_feedback(client, form_path(token_ok)).status_code == 302


def test_salon_customers_token_never_files_feedback_for_tea(client, tea, salon_customer):
    path = customer_path(salon_customer)
    # Extra fields naming tea are ignored: the token alone decides the business.
    response = post_feedback(
        client, path, comment="salon", business=str(tea.business.pk), customer="1"
    )
    assert response.status_code == 302
    assert Feedback.objects.for_business(tea.business).count() == 0
    feedback = Feedback.objects.get()
    assert (feedback.business, feedback.customer) == (salon_customer.business, salon_customer)


def test_salon_customer_token_inside_the_tea_link_path_is_404(client, tea, salon_customer):
    tea_path = business_path(tea.business)
    salon_token = customer_path(salon_customer).strip("/").split("/")[-1]
    spliced = tea_path.rstrip("/") + salon_token + "/"
    assert post_feedback(client, spliced).status_code == 404
    assert Feedback.objects.count() == 0


def test_expired_customer_link_is_410(client, tea, tea_customer):
    path = customer_path(tea_customer)
    CustomerFeedbackLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert post_feedback(client, path).status_code == 410
    assert Feedback.objects.count() == 0


def test_disabled_feedback_or_inactive_business_says_so(client, tea):
    path = business_path(tea.business)
    fs = feedback_settings_for(tea.business)
    fs.enabled = False
    fs.save()
    response = client.get(path)
    assert response.status_code == 410
    assert "not collecting feedback" in response.content.decode()
    assert post_feedback(client, path).status_code == 410

    fs.enabled = True
    fs.save()
    tea.business.is_active = False
    tea.business.save()
    assert client.get(path).status_code == 410
    assert Feedback.objects.count() == 0


def test_new_link_replaces_the_old_one(client, tea):
    old = business_path(tea.business)
    feedback_link_renew(business=tea.business)
    new = business_path(tea.business)
    assert new != old
    assert client.get(old).status_code == 410
    assert post_feedback(client, old).status_code == 410
    assert post_feedback(client, new).status_code == 302
    assert Feedback.objects.count() == 1


# Abuse --------------------------------------------------------------------------------------


def test_honeypot_shows_thanks_but_stores_nothing(client, tea):
    path = business_path(tea.business)
    response = post_feedback(client, path, website="http://spam.example", comment="buy now")
    assert response.status_code == 302
    assert response["Location"] == thanks_of(path)
    assert client.get(response["Location"]).status_code == 200
    assert Feedback.objects.count() == 0


def test_csrf_is_enforced(tea):
    browser = Client(enforce_csrf_checks=True)
    path = business_path(tea.business)
    refused = browser.post(path, {"nps": "9"}, REMOTE_ADDR=fresh_address())
    assert refused.status_code == 403
    assert Feedback.objects.count() == 0

    browser.get(path)
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        path, {"nps": "9", "csrfmiddlewaretoken": token}, REMOTE_ADDR=fresh_address()
    )
    assert accepted.status_code == 302
    assert Feedback.objects.count() == 1


def test_30_posts_in_a_minute_from_one_address_store_only_the_limit(client, tea):
    path = business_path(tea.business)
    codes = [post_feedback(client, path, address="203.0.113.7").status_code for _ in range(30)]
    assert codes[:5] == [302] * 5
    assert set(codes[5:]) == {429}
    assert Feedback.objects.count() == 5

    limited = post_feedback(client, path, address="203.0.113.7")
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"
    assert "Please wait a moment" in limited.content.decode()
    # Another address is not affected.
    assert post_feedback(client, path, address="203.0.113.8").status_code == 302


def test_hourly_limit_per_address(client, tea, settings):
    settings.XW_FEEDBACK_RATE_LIMITS = {
        **settings.XW_FEEDBACK_RATE_LIMITS,
        "address_per_minute": 100,
        "address_per_hour": 7,
    }
    path = business_path(tea.business)
    codes = [post_feedback(client, path, address="203.0.113.9").status_code for _ in range(10)]
    assert codes.count(302) == 7
    assert Feedback.objects.count() == 7


def test_per_link_limit_counts_all_addresses(client, tea, salon):
    tea_path = business_path(tea.business)
    codes = [post_feedback(client, tea_path).status_code for _ in range(25)]
    assert codes.count(302) == 20
    assert codes.count(429) == 5
    # Salon's link has its own budget.
    assert post_feedback(client, business_path(salon.business)).status_code == 302


def test_x_forwarded_for_is_ignored_unless_trusted(client, tea, settings):
    path = business_path(tea.business)

    def spoofed(i):
        return client.post(
            path, {"nps": "9"}, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"
        ).status_code

    assert [spoofed(i) for i in range(7)].count(302) == 5

    settings.XW_FEEDBACK_TRUST_X_FORWARDED_FOR = True
    # Behind a trusted proxy the last X-Forwarded-For entry is the client.
    codes = [
        client.post(
            path, {"nps": "9"}, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.4, 10.1.0.{i}"
        ).status_code
        for i in range(7)
    ]
    assert codes == [302] * 7


def test_customer_typed_text_is_escaped_on_the_thank_you_page(client, tea):
    path = business_path(tea.business)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = post_feedback(client, path, comment=evil, request=evil)
    thanks = client.get(response["Location"]).content.decode()
    assert "<script>alert" not in thanks
    assert "<img src=x" not in thanks
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in thanks


def test_form_errors_escape_what_was_typed(client, tea):
    evil = "<script>alert(1)</script>"
    response = client.post(
        business_path(tea.business), {"comment": evil, "phone": evil}, REMOTE_ADDR=fresh_address()
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_thank_you_page_shows_nothing_of_another_business(client, tea, salon):
    # The session remembers salon feedback; tea's thank-you page must not show it.
    salon_path = business_path(salon.business)
    post_feedback(client, salon_path, comment="沙龙的秘密")
    tea_thanks = client.get(thanks_of(business_path(tea.business))).content.decode()
    assert "沙龙的秘密" not in tea_thanks


def test_get_and_put_methods(client, tea):
    path = business_path(tea.business)
    assert client.head(path).status_code == 200
    assert client.put(path).status_code == 405
    assert client.get(reverse("feedback:thanks", args=["bad"])).status_code == 404


def test_unrelated_customer_of_tea_is_not_touched_by_linking(client, tea, tea_customer):
    other = CustomerFactory(business=tea.business, name="另一个客户")
    post_feedback(client, business_path(tea.business), phone="13900001111")
    assert Feedback.objects.get().customer_id == tea_customer.pk
    assert not Feedback.objects.filter(customer=other).exists()
