"""The customer's own card page at /m/<token>/: a signed, revocable link, no login.

Token: `signing.dumps({"a": account_pk, "v": card_version})`. Nothing else is stored; "New
card link" in the admin raises `card_version`, so every older link and printed QR code stops
working. Links to other public pages (the feedback form) are offered by the apps that own them
through `register_card_link`, so this app imports none of its siblings."""

from __future__ import annotations

import io
from collections.abc import Callable

import segno
from django.core import signing
from django.urls import reverse

from accounts.links import absolute_url

from .models import MemberAccount

CARD_SALT = "xw.membership.card"

# (business, request) -> (label, url) or None
CardLink = Callable[..., tuple[str, str] | None]
_card_links: list[CardLink] = []


def register_card_link(provider: CardLink) -> None:
    if provider not in _card_links:
        _card_links.append(provider)


def card_links(business, request) -> list[tuple[str, str]]:
    links = []
    for provider in _card_links:
        link = provider(business, request)
        if link:
            links.append(link)
    return links


def card_token(account: MemberAccount) -> str:
    return signing.dumps({"a": account.pk, "v": account.card_version}, salt=CARD_SALT)


def card_path(account: MemberAccount) -> str:
    return reverse("membership:card", args=[card_token(account)])


def card_url(account: MemberAccount, request=None) -> str:
    return absolute_url(card_path(account), request)


def account_for_token(token: str) -> MemberAccount | None:
    """The account behind a valid, current token; None for forged, tampered or old ones."""
    if not token or len(token) > 200:
        return None
    try:
        payload = signing.loads(token, salt=CARD_SALT)
        pk, version = int(payload["a"]), int(payload["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    account = (
        MemberAccount.objects.select_related("business", "customer", "level")
        .filter(pk=pk, card_version=version, business__is_active=True)
        .first()
    )
    return account


def qr_svg(text: str, *, scale: int = 5) -> str:
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(
        out, kind="svg", scale=scale, border=2, xmldecl=False, svgclass="xw-qr"
    )
    return out.getvalue().decode()


def qr_png(text: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
