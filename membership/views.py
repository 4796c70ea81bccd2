"""The customer's own card page at /m/<token>/: no login, no JavaScript, Chinese or English."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .card import account_for_token, card_links, qr_svg
from .selectors import business_zone, open_coupons, open_visit_packages, recent_entries

LANGUAGES = {"zh-hans", "en"}


@never_cache
@require_GET
def card_page(request: HttpRequest, token: str) -> HttpResponse:
    lang = request.GET.get("lang", "")
    if lang in LANGUAGES:
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
    account = account_for_token(token)
    if account is None:
        return render(request, "membership/card_missing.html", status=404)
    zone = business_zone(account.business)
    with timezone.override(zone):
        response = render(
            request,
            "membership/card.html",
            {
                "account": account,
                "business": account.business,
                "packages": open_visit_packages(account),
                "coupons": open_coupons(account),
                "entries": recent_entries(account),
                "qr": qr_svg(account.card_no),
                "links": card_links(account.business, request),
                "token": token,
            },
        )
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response
