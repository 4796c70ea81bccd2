"""Feedback link tokens, both served at /f/<token>/.

- Business link: `signing.dumps({"b": business_pk, "v": link_version})`. Nothing is stored; a new
  link version (admin: "New link") invalidates every older one. Contains ':' (signing).
- Personal link: `secrets.token_urlsafe(24)`; only its SHA-256 is stored, single-use, expires.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from accounts.models import Business

from .models import CustomerFeedbackLink, FeedbackSettings

BUSINESS_SALT = "xw.feedback.business"


class LinkNotFound(Exception):
    """A forged, tampered or unknown token."""


@dataclass(frozen=True)
class ResolvedLink:
    kind: str  # Feedback.LinkKind
    business: Business
    settings: FeedbackSettings | None
    customer_link: CustomerFeedbackLink | None = None
    # Why the link takes no feedback now ("" = it does): disabled, replaced, expired, used.
    problem: str = ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_customer_token() -> tuple[str, str]:
    """(token for the URL, its hash for the database)."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


def business_token(feedback_settings: FeedbackSettings) -> str:
    return signing.dumps(
        {"b": feedback_settings.business_id, "v": feedback_settings.link_version},
        salt=BUSINESS_SALT,
        compress=False,
    )


def form_path(token: str) -> str:
    return reverse("feedback:form", args=[token])


def _closed(business: Business, feedback_settings: FeedbackSettings | None) -> bool:
    return not business.is_active or (
        feedback_settings is not None and not feedback_settings.enabled
    )


def resolve_token(token: str, *, check_usable: bool = True) -> ResolvedLink:
    """The link behind `token`, or LinkNotFound. With check_usable, `problem` says why a known
    link takes no feedback (the thank-you page resolves without it)."""
    if ":" in token:
        try:
            payload = signing.loads(token, salt=BUSINESS_SALT)
            business_pk, version = int(payload["b"]), int(payload["v"])
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise LinkNotFound from exc
        business = Business.objects.filter(pk=business_pk).first()
        if business is None:
            raise LinkNotFound
        fs = FeedbackSettings.objects.for_business(business).first()
        current = fs.link_version if fs else 1
        problem = ""
        if check_usable:
            if version != current:
                problem = "replaced"
            elif _closed(business, fs):
                problem = "disabled"
        return ResolvedLink("business", business, fs, None, problem)

    if not token or len(token) > 64:
        raise LinkNotFound
    link = (
        CustomerFeedbackLink.objects.select_related("business", "customer")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None:
        raise LinkNotFound
    fs = FeedbackSettings.objects.for_business(link.business_id).first()
    problem = ""
    if check_usable:
        if link.used_at is not None:
            problem = "used"
        elif link.expires_at <= timezone.now():
            problem = "expired"
        elif _closed(link.business, fs):
            problem = "disabled"
    return ResolvedLink("customer", link.business, fs, link, problem)
