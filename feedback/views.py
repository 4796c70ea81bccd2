"""The public feedback page at /f/<token>/: no login, phone first, no JavaScript needed.

Order of checks on a post: body size (before anything reads the body), token, rate limits,
CSRF, then the form. Every refusal is a plain translated page, never a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import ratelimit
from .forms import NPS_VALUES, STAR_VALUES, FeedbackForm
from .links import LinkNotFound, ResolvedLink, resolve_token
from .models import Feedback
from .services import LinkUnusable, feedback_submit

SESSION_KEY = "xw_feedback_last"


def max_body_bytes() -> int:
    return settings.XW_FEEDBACK_MAX_BODY_BYTES


def _messages(problem: str, business_name: str) -> tuple[str, str]:
    name = {"business": business_name}
    return {
        "not_found": (
            _("Link not found"),
            _("This feedback link is not valid. Please check the address or scan the code again."),
        ),
        "replaced": (
            _("This link is no longer in use"),
            _("%(business)s has a new feedback link. Please scan the current code.") % name,
        ),
        "disabled": (
            _("Feedback is closed"),
            _("%(business)s is not collecting feedback at the moment.") % name,
        ),
        "expired": (
            _("This link has expired"),
            _("Personal feedback links work for a limited time, and this one has expired."),
        ),
        "used": (
            _("This link has been used"),
            _("Feedback was already sent with this personal link. Thank you!"),
        ),
        "too_big": (
            _("That was too long"),
            _("Your message was too long to send. Please shorten it and try again."),
        ),
        "rate_limited": (
            _("Please wait a moment"),
            _("Too many messages were sent from your connection. Please try again in a minute."),
        ),
        "csrf": (
            _("Please try again"),
            _("This page was open for too long. Please reload it and send your feedback again."),
        ),
    }[problem]


def _problem_page(
    request: HttpRequest, problem: str, status: int, business=None, token: str = ""
) -> HttpResponse:
    title, text = _messages(problem, business.name if business else "")
    response = render(
        request,
        "feedback/message.html",
        {"title": title, "text": text, "business": business, "problem": problem, "token": token},
        status=status,
    )
    return response


STATUS_FOR_PROBLEM = {"replaced": 410, "disabled": 410, "expired": 410, "used": 410}


def _body_too_big(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > max_body_bytes()


def _csrf_rejected(request: HttpRequest) -> bool:
    """Django's own CSRF check, run here so that it reads the body only after the size check."""

    def target(request):  # pragma: no cover - never called, only inspected
        return None

    middleware = CsrfViewMiddleware(lambda req: HttpResponse())
    middleware.process_request(request)
    return middleware.process_view(request, target, (), {}) is not None


def _link_key(link: ResolvedLink) -> str:
    if link.customer_link is not None:
        return f"c{link.customer_link.pk}"
    return f"b{link.business.pk}"


@never_cache
@csrf_exempt  # checked by _csrf_rejected() after the body-size check
@require_http_methods(["GET", "HEAD", "POST"])
def feedback_form(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and _body_too_big(request):
        return _problem_page(request, "too_big", 413)
    try:
        link = resolve_token(token)
    except LinkNotFound:
        return _problem_page(request, "not_found", 404)
    if link.problem:
        return _problem_page(request, link.problem, STATUS_FOR_PROBLEM[link.problem], link.business)

    with_phone = link.kind == Feedback.LinkKind.BUSINESS
    if request.method == "POST":
        wait = ratelimit.check_post(request, _link_key(link))
        if wait:
            response = _problem_page(request, "rate_limited", 429, link.business)
            response["Retry-After"] = str(wait)
            return response
        if _csrf_rejected(request):
            return _problem_page(request, "csrf", 403, link.business, token)
        form = FeedbackForm(request.POST, business=link.business, with_phone=with_phone)
        if form.is_spam:
            return redirect("feedback:thanks", token=token)  # looks accepted, stores nothing
        if form.is_valid():
            data = form.cleaned_data
            try:
                feedback = feedback_submit(
                    link=link,
                    nps=data["nps"],
                    stars=data.get("stars"),
                    topic=data.get("topic", ""),
                    comment=data.get("comment", ""),
                    request=data.get("request", ""),
                    phone=data.get("phone", ""),
                    language=translation.get_language() or "",
                )
            except LinkUnusable as exc:
                return _problem_page(
                    request, exc.problem, STATUS_FOR_PROBLEM[exc.problem], link.business
                )
            request.session[SESSION_KEY] = feedback.pk
            return redirect("feedback:thanks", token=token)
        status = 400
    else:
        form = FeedbackForm(business=link.business, with_phone=with_phone)
        status = 200
    return render(
        request,
        "feedback/form.html",
        {
            "form": form,
            "business": link.business,
            "with_phone": with_phone,
            "personal": not with_phone,
            "nps_choices": [(str(v), Feedback.group_of(v)) for v in NPS_VALUES],
            "star_values": [str(v) for v in reversed(STAR_VALUES)],  # reversed: CSS-only stars
            "max_body_bytes": max_body_bytes(),
        },
        status=status,
    )


@never_cache
@require_GET
def feedback_thanks(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = resolve_token(token, check_usable=False)
    except LinkNotFound:
        return _problem_page(request, "not_found", 404)
    feedback = None
    pk = request.session.get(SESSION_KEY)
    if isinstance(pk, int):
        feedback = Feedback.objects.filter(pk=pk, business=link.business).first()
    return render(
        request, "feedback/thanks.html", {"business": link.business, "feedback": feedback}
    )
