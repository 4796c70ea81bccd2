"""The phone app: thin views over the same services and selectors as the admin and the API.

Every view runs through `member_view`, which resolves the user's business with
`accounts.tenancy.business_for`; every row is fetched through `for_business(...)`, so another
business's id is a 404. Owner-only screens answer 403 to staff, as the admin does.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import wraps
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.tenancy import business_for, is_owner
from campaigns import selectors as campaign_selectors
from campaigns import services as campaign_services
from campaigns.audience import (
    AudienceError,
    audience_count,
    matching_customers,
    messageable,
    parse_audience,
)
from campaigns.models import Campaign, CampaignMember
from campaigns.senders import render_message
from campaigns.services import CampaignRefused
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import Customer, FollowUp, Interaction, Tag
from customers.money import format_money
from feedback import selectors as feedback_selectors
from feedback.models import Feedback
from feedback.qr import qr_svg
from feedback.services import business_link_url, feedback_reply
from membership import selectors as member_selectors
from membership import services as member_services
from reports import selectors as report_selectors
from reports.presenting import present as present_report
from reports.weeks import parse_week, week_label
from segmentation import selectors as score_selectors
from segmentation.models import Action, Segment, Tier
from segmentation.wording import churn_phrase, plain_explanation

from . import forms

PAGE = 30
TIMELINE_PAGE = 20


def member_view(view=None, *, owner_only: bool = False):
    """Signed-in members of an active business only (others: login page or 403)."""

    def decorate(func):
        @wraps(func)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("shop:login"))
            business = business_for(request.user)
            if business is None:
                raise PermissionDenied(_("You are not a member of an active business."))
            if owner_only and not is_owner(request.user):
                raise PermissionDenied(_("Only the owner can open this screen."))
            request.business = business
            request.is_owner = is_owner(request.user)
            return func(request, *args, **kwargs)

        return never_cache(wrapped)

    return decorate(view) if view else decorate


def _tz(business):
    return business.zone


def _local_now(business) -> datetime:
    return timezone.now().astimezone(_tz(business))


def _day_start(day, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


MAX_ID = 2**63 - 1  # beyond a database integer: no such row, not a server error


def _get(queryset, pk):
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < pk <= MAX_ID:
        raise Http404
    return get_object_or_404(queryset, pk=pk)


def _customer(request, pk) -> Customer:
    return _get(Customer.objects.for_business(request.business), pk)


def _render(request, template: str, context: dict, partial: str | None = None, **kwargs):
    """The whole page, or only `partial` when htmx asks for a piece of it."""
    if partial and request.htmx and not request.htmx.boosted:
        return render(request, partial, context, **kwargs)
    return render(request, template, context, **kwargs)


def _money(request, amount) -> str:
    return format_money(amount, request.business.currency)


# Login --------------------------------------------------------------------------------------


class ShopLoginView(LoginView):
    template_name = "shop/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("shop:today")


# 1. Today -----------------------------------------------------------------------------------


def _compare(now: float | int, before: float | int) -> str:
    if not before:
        return "up" if now else "same"
    if now > before:
        return "up"
    return "down" if now < before else "same"


@member_view
@require_GET
def today(request):
    business = request.business
    tz = _tz(business)
    now = _local_now(business)
    day = now.date()
    monday = day - timedelta(days=day.weekday())
    week_ago = now - timedelta(days=7)
    ranges = {
        "today": (_day_start(day, tz), now),
        "today_last_week": (_day_start(day - timedelta(days=7), tz), week_ago),
        "week": (_day_start(monday, tz), now),
        "last_week": (_day_start(monday - timedelta(days=7), tz), week_ago),
    }
    figures = customer_selectors.activity_figures(business, ranges)
    rows = []
    for label, this, before in (
        (_("Today"), figures["today"], figures["today_last_week"]),
        (_("This week"), figures["week"], figures["last_week"]),
    ):
        rows.append(
            {
                "label": label,
                "sales": _money(request, this["sales"]),
                "sales_before": _money(request, before["sales"]),
                "sales_trend": _compare(this["sales"], before["sales"]),
                "visits": this["visits"],
                "visits_before": before["visits"],
                "visits_trend": _compare(this["visits"], before["visits"]),
                "new": this["new_customers"],
                "new_before": before["new_customers"],
                "new_trend": _compare(this["new_customers"], before["new_customers"]),
            }
        )
    calling = [
        {"score": s, "customer": s.customer, "reason": plain_explanation(s, business)}
        for s in score_selectors.customers_worth_calling(business, limit=5)
    ]
    follow_ups = list(customer_selectors.follow_ups_open(business, until=day)[:20])
    context = {
        "screen": "today",
        "day": day,
        "figures": rows,
        "follow_ups": follow_ups,
        "calling": calling,
        "birthdays": customer_selectors.birthdays_between(business, day, 7, limit=10),
        "feedback": list(feedback_selectors.feedback_inbox(business, waiting_only=True)[:5]),
        "to_send": campaign_selectors.staff_day_list(business, timezone.now()).count(),
        **_quiet(business, timezone.now()),
    }
    return render(request, "shop/today.html", context)


# 2. Find a customer -------------------------------------------------------------------------


@member_view
@require_GET
def search(request):
    term = request.GET.get("q", "")[:64]
    results = list(customer_selectors.customer_search(request.business, term))
    card = member_selectors.account_by_card_no(request.business, term)
    if card is not None and all(c.pk != card.customer_id for c in results):
        results.insert(0, card.customer)  # a member card number typed or scanned
    context = {"screen": "search", "q": term, "results": results}
    return _render(request, "shop/search.html", context, partial="shop/partials/results.html")


# 3. Checkout --------------------------------------------------------------------------------


@member_view
def sale(request):
    business = request.business
    customer = None
    raw_customer = request.POST.get("customer") or request.GET.get("customer")
    if raw_customer:
        customer = _customer(request, raw_customer)
    account = _member_account(request, customer) if customer else None
    if request.method == "POST":
        form = forms.SaleForm(request.POST, business=business, account=account)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if account is not None:
                    return _member_checkout(request, account, data)
                purchase, created, customer = _record_sale(request, data, customer)
            except ValidationError as exc:
                for field, errors in getattr(
                    exc, "message_dict", {"__all__": exc.messages}
                ).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if created:
                    messages.success(
                        request,
                        _("Sale of %(amount)s recorded for %(name)s.")
                        % {"amount": _money(request, purchase.amount), "name": customer.name},
                    )
                else:
                    messages.info(request, _("This sale was already recorded."))
                return redirect("shop:customer", pk=customer.pk)
        status = 400
    else:
        initial = {"customer": customer.pk} if customer else {}
        initial["served_by"] = str(request.user.pk)
        form = forms.SaleForm(business=business, initial=initial, account=account)
        status = 200
    context = {"screen": "sale", "form": form, "customer": customer, "account": account}
    if account is not None:
        context["card"] = _card_figures(request, account)
    return render(request, "shop/sale.html", context, status=status)


def _member_account(request, customer):
    """The customer's member card, or None (scoped to the business like every read)."""
    return member_selectors.accounts_for(request.business).filter(customer=customer).first()


def _card_figures(request, account) -> dict:
    return {
        "card_no": account.card_no,
        "level": account.level.name if account.level else "",
        "stored_value": _money(request, account.principal + account.bonus),
        "principal": _money(request, account.principal),
        "bonus": _money(request, account.bonus),
        "points": account.points,
    }


def _member_checkout(request, account, data):
    """A member's sale: membership's checkout records the purchase and every ledger entry in
    one transaction; the form's key is the ledger's idempotency key (a double tap replays)."""
    result = member_services.checkout(
        account=account,
        amount=data["amount"],
        key=str(data["key"]),
        actor=request.user,
        stored_value=data.get("stored_value") or Decimal("0"),
        visit_package=data.get("visit_package"),
        points=data.get("points") or 0,
        coupon=data.get("coupon"),
        items=data.get("items") or "",
    )
    money = {k: _money(request, Decimal(result[k])) for k in ("due", "paid_stored_value")}
    summary = _("Due %(due)s, paid from the card %(card)s, points earned: %(earned)d.") % {
        "due": money["due"],
        "card": money["paid_stored_value"],
        "earned": result["points_earned"],
    }
    if result["replayed"]:
        messages.info(request, _("This sale was already recorded.") + " " + summary)
    else:
        messages.success(
            request,
            _("Sale recorded for %(name)s.") % {"name": account.customer.name} + " " + summary,
        )
    return redirect("shop:customer", pk=account.customer_id)


def _record_sale(request, data, customer):
    business = request.business
    if customer is None:
        if data.get("customer"):
            customer = _customer(request, data["customer"])
        else:
            customer = _new_or_known_customer(business, data["name"], data["phone"])
    served_by = None
    if data.get("served_by"):
        served_by = (
            get_user_model()
            .objects.filter(pk=data["served_by"], membership__business=business)
            .first()
        )
        if served_by is None:
            raise ValidationError({"served_by": [_("Pick someone from your team.")]})
    purchase, created = customer_services.sale_record(
        business=business,
        customer=customer,
        amount=data["amount"],
        key=str(data["key"]),
        items=data.get("items") or "",
        served_by=served_by,
    )
    return purchase, created, customer


def _new_or_known_customer(business, name: str, phone: str) -> Customer:
    """A new customer from name + phone; a phone the business already knows is that
    customer (a resent form must not fail on its own first customer)."""
    from customers.phones import normalize_phone

    try:
        normalized = normalize_phone(phone, business.phone_region)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from exc
    known = Customer.objects.for_business(business).filter(phone=normalized).first()
    if known is not None:
        return known
    return customer_services.customer_save(
        business=business, data={"name": name.strip(), "phone": normalized}
    )


# 4. Customer card ---------------------------------------------------------------------------


ACTION_BUTTONS = {
    Action.CARE: ("tel", gettext_lazy("Call to say thank you")),
    Action.WIN_BACK: ("tel", gettext_lazy("Call to win them back")),
    Action.NURTURE: ("sms", gettext_lazy("Send a message")),
    Action.MAINTAIN: ("follow_up", gettext_lazy("Schedule a follow-up")),
    Action.REVIEW_COST: ("follow_up", gettext_lazy("Review: schedule a follow-up")),
}


def _score_of(customer):
    try:
        return customer.score
    except Customer.score.RelatedObjectDoesNotExist:
        return None


def _card_context(request, customer, **extra) -> dict:
    business = request.business
    score = _score_of(customer)
    totals = customer_selectors.customer_totals(customer)
    action = None
    if score is not None and customer.phone:
        kind, label = ACTION_BUTTONS[score.action]
        action = {"kind": kind, "label": label}
    elif customer.phone:
        action = {"kind": "tel", "label": _("Call")}
    sms_text = _("Hello %(name)s, this is %(business)s. We would love to see you again soon!") % {
        "name": customer.name,
        "business": business.name,
    }
    today = _local_now(business).date()
    context = {
        "screen": "customer",
        "customer": customer,
        "score": score,
        "sentence": plain_explanation(score, request.business),
        "churn": churn_phrase(score) if score else "",
        "action": action,
        "sms_text": sms_text,
        "total_spent": _money(request, totals["total"] or 0),
        "purchase_count": totals["count"],
        "last_purchase": totals["last"],
        "note_form": forms.NoteForm(),
        "interaction_form": forms.InteractionForm(),
        "follow_up_form": forms.FollowUpForm(business=business, today=today),
    }
    context.update(_timeline_context(customer, 1))
    context.update(_member_card_context(request, customer))
    context.update(extra)
    return context


def _card_customer(request, pk) -> Customer:
    """A customer of this business with all the card shows: score, member card and its counts."""
    customers = Customer.objects.for_business(request.business).select_related(
        "score", "assigned_to", "member_account__level"
    )
    return _get(member_selectors.with_card_summary(customers), pk)


def _member_card_context(request, customer) -> dict:
    """The member card on the customer card: balances, visits left, points, coupons."""
    try:
        account = customer.member_account
    except Customer.member_account.RelatedObjectDoesNotExist:
        return {"card": None}
    card = _card_figures(request, account)
    for name in ("card_visits_left", "card_packages", "card_coupons"):
        card[name.removeprefix("card_")] = getattr(customer, name)
    return {"card": card}


def _timeline_context(customer, page: int) -> dict:
    start = (page - 1) * TIMELINE_PAGE
    events = customer_selectors.customer_timeline(customer, limit=start + TIMELINE_PAGE + 1)
    chunk = events[start : start + TIMELINE_PAGE]
    return {
        "events": chunk,
        "next_page": page + 1 if len(events) > start + TIMELINE_PAGE else None,
    }


@member_view
@require_GET
def customer(request, pk: int):
    customer = _card_customer(request, pk)
    return render(request, "shop/customer.html", _card_context(request, customer))


@member_view
@require_GET
def timeline(request, pk: int):
    customer = _customer(request, pk)
    try:
        page = max(1, min(int(request.GET.get("page", "1")), 500))
    except ValueError:
        page = 1
    context = {"customer": customer, **_timeline_context(customer, page)}
    return render(request, "shop/partials/timeline.html", context)


@member_view
@require_POST
def add_note(request, pk: int):
    customer = _customer(request, pk)
    form = forms.NoteForm(request.POST)
    if form.is_valid():
        customer_services.interaction_record(
            business=request.business,
            customer=customer,
            kind=Interaction.Kind.NOTE,
            summary=form.cleaned_data["summary"],
            staff=request.user,
        )
        messages.success(request, _("Note added."))
        return redirect("shop:customer", pk=customer.pk)
    return _card_invalid(request, customer, note_form=form)


@member_view
@require_POST
def add_interaction(request, pk: int):
    customer = _customer(request, pk)
    form = forms.InteractionForm(request.POST)
    if form.is_valid():
        customer_services.interaction_record(
            business=request.business, customer=customer, staff=request.user, **form.cleaned_data
        )
        messages.success(request, _("Interaction recorded."))
        return redirect("shop:customer", pk=customer.pk)
    return _card_invalid(request, customer, interaction_form=form)


@member_view
@require_POST
def add_follow_up(request, pk: int):
    customer = _customer(request, pk)
    today = _local_now(request.business).date()
    form = forms.FollowUpForm(request.POST, business=request.business, today=today)
    if form.is_valid():
        data = form.cleaned_data
        assignee = None
        if data.get("assigned_to"):
            assignee = (
                get_user_model()
                .objects.filter(pk=data["assigned_to"], membership__business=request.business)
                .first()
            )
        customer_services.follow_up_create(
            business=request.business,
            customer=customer,
            due_on=data["due_on"],
            task=data["task"],
            assigned_to=assignee,
        )
        messages.success(request, _("Follow-up scheduled."))
        return redirect("shop:customer", pk=customer.pk)
    return _card_invalid(request, customer, follow_up_form=form)


def _card_invalid(request, customer, **forms_with_errors):
    customer = _card_customer(request, customer.pk)  # with the card's figures, as on the card
    context = _card_context(request, customer, **forms_with_errors)
    context["open_form"] = next(iter(forms_with_errors))
    return render(request, "shop/customer.html", context, status=400)


# 5. Customers list --------------------------------------------------------------------------


@member_view
@require_GET
def customer_list(request):
    business = request.business
    form = forms.ListFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    segment = data.get("segment") if data.get("segment") in Segment.values else ""
    tier = data.get("tier") if data.get("tier") in Tier.values else ""
    month = _local_now(business).month
    page = data.get("page") or 1
    rows = score_selectors.customer_list_page(
        business,
        offset=(page - 1) * PAGE,
        limit=PAGE + 1,
        segment=segment,
        tier=tier,
        status=data.get("status") or "",
        tag=data.get("tag"),
        at_risk=bool(data.get("at_risk")),
        birthday_month=month if data.get("birthday") else None,
    )
    has_more = len(rows) > PAGE
    active = {
        "segment": segment,
        "tier": tier,
        "status": data.get("status") or "",
        "tag": data.get("tag") or "",
        "at_risk": "1" if data.get("at_risk") else "",
        "birthday": "1" if data.get("birthday") else "",
    }
    context = {
        "screen": "customers",
        "customers": rows[:PAGE],
        "next_query": _query(active, page=page + 1) if has_more else "",
        "chips": _chips(business, active),
        "active": active,
    }
    return _render(request, "shop/customers.html", context, partial="shop/partials/rows.html")


def _query(params: dict, **extra) -> str:
    from django.utils.http import urlencode

    merged = {k: v for k, v in {**params, **extra}.items() if v not in ("", None)}
    return urlencode(merged)


def _chips(business, active: dict) -> list[dict]:
    """Each filter group with its chips: a chip's link toggles it, keeping the others."""
    tags = Tag.objects.for_business(business).order_by("name")[:20]
    groups = [
        (_("Quick"), "at_risk", [("1", _("At risk"))]),
        (_("Quick"), "birthday", [("1", _("Birthday this month"))]),
        (_("Tier"), "tier", [(t.value, t.value) for t in Tier]),
        (_("Segment"), "segment", [(s.value, s.label) for s in Segment]),
        (_("Status"), "status", list(Customer.Status.choices)),
        (_("Tag"), "tag", [(str(t.pk), t.name) for t in tags]),
    ]
    out: list[dict] = []
    for title, key, options in groups:
        chips = []
        for value, label in options:
            on = str(active.get(key) or "") == str(value)
            chips.append(
                {"label": label, "on": on, "query": _query(active, **{key: "" if on else value})}
            )
        if out and out[-1]["title"] == title:
            out[-1]["chips"].extend(chips)
        elif chips:
            out.append({"title": title, "chips": chips})
    return out


# 6. Follow-ups ------------------------------------------------------------------------------


@member_view
@require_GET
def follow_ups(request):
    mine = request.GET.get("who", "mine") != "all"
    horizon = _local_now(request.business).date() + timedelta(days=366 * 3)
    qs = customer_selectors.follow_ups_open(
        request.business, until=horizon, assigned_to=request.user if mine else None
    )
    context = {
        "screen": "follow_ups",
        "mine": mine,
        "follow_ups": list(qs[:50]),
        "today": _local_now(request.business).date(),
    }
    return render(request, "shop/follow_ups.html", context)


def _follow_up(request, pk: int) -> FollowUp:
    return _get(FollowUp.objects.for_business(request.business).select_related("customer"), pk)


def _back(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return default


@member_view
@require_POST
def follow_up_done(request, pk: int):
    follow_up = customer_services.follow_up_complete(follow_up=_follow_up(request, pk))
    if request.htmx:
        return render(request, "shop/partials/follow_up_row.html", {"f": follow_up, "done": True})
    messages.success(request, _("Done: %(task)s") % {"task": follow_up.task})
    return redirect(_back(request, reverse("shop:follow_ups")))


@member_view
@require_POST
def follow_up_snooze(request, pk: int):
    follow_up = _follow_up(request, pk)
    form = forms.SnoozeForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose tomorrow or next week."), status=400)
    until = _local_now(request.business).date() + timedelta(days=form.cleaned_data["days"])
    try:
        customer_services.follow_up_snooze(follow_up=follow_up, until=until)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400)
    if request.htmx:
        context = {"f": follow_up, "snoozed": True, "today": until}
        return render(request, "shop/partials/follow_up_row.html", context)
    messages.success(request, _("Moved to %(day)s.") % {"day": until.isoformat()})
    return redirect(_back(request, reverse("shop:follow_ups")))


# 7. Feedback inbox --------------------------------------------------------------------------


@member_view
@require_GET
def feedback_inbox(request):
    waiting = request.GET.get("show") != "all"
    qs = feedback_selectors.feedback_inbox(request.business, waiting_only=waiting)
    context = {"screen": "feedback", "waiting": waiting, "entries": list(qs[:50])}
    return render(request, "shop/feedback.html", context)


@member_view
@require_POST
def feedback_answer(request, pk: int):
    entry = _get(Feedback.objects.for_business(request.business), pk)
    form = forms.ReplyForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Check the reply and the status."), status=400)
    entry = feedback_reply(
        feedback=entry,
        status=form.cleaned_data["status"],
        reply=form.cleaned_data["reply"],
        actor=request.user,
    )
    if request.htmx:
        return render(request, "shop/partials/feedback_item.html", {"f": entry, "saved": True})
    messages.success(request, _("Reply saved."))
    return redirect("shop:feedback")


# 8. Owner -----------------------------------------------------------------------------------


@member_view(owner_only=True)
@require_GET
def owner(request):
    business = request.business
    tz = _tz(business)
    now = _local_now(business)
    monday = now.date() - timedelta(days=now.weekday())
    start = _day_start(monday, tz)
    week = customer_selectors.week_figures(
        business, start, now, start - timedelta(days=7), now - timedelta(days=7)
    )
    context = {
        "screen": "owner",
        "week": week,
        "sales": _money(request, week["sales"]),
        "sales_before": _money(request, week["sales_before"]),
        "nps": feedback_selectors.feedback_nps_between(business, start, now),
        "since": monday,
    }
    return render(request, "shop/owner.html", context)


REPORT_WEEKS_LISTED = 12


@member_view(owner_only=True)
@require_GET
def reports(request, week: str = ""):
    """The stored weekly reports (issue 14): the latest, or the week asked for, shown with the
    reports app's own body template; the recent weeks listed, earlier ones browsable."""
    week_start = None
    if week:
        try:
            week_start = parse_week(week)
        except ValueError as exc:
            raise Http404(_("No such week.")) from exc
    report = report_selectors.stored_report(request.business, week_start)
    if report is None and week_start is not None:
        raise Http404(_("No report for this week."))
    context = {
        "screen": "owner",
        "report_weeks": [
            {"label": week_label(w), "start": w}
            for w in report_selectors.stored_report_weeks(
                request.business, limit=REPORT_WEEKS_LISTED
            )
        ],
    }
    if report is not None:
        report.business = request.business  # the same row, already loaded: no second query
        earlier, later = report_selectors.report_neighbours(report)
        context.update(present_report(report))
        for row in context["at_stake"]:
            row["card_url"] = reverse("shop:customer", args=[row["customer_id"]])
        context.update({"earlier": earlier, "later": later})
    return render(request, "shop/report.html", context)


@member_view(owner_only=True)
@require_GET
def poster(request):
    url = business_link_url(business=request.business, request=request)
    context = {"screen": "poster", "url": url, "qr": qr_svg(url, scale=8).decode()}
    return render(request, "shop/poster.html", context)


# Installable app: manifest, service worker, offline page ------------------------------------


@require_GET
@cache_control(max_age=3600)
def manifest(request):
    data = {
        "name": _("XiaoWei CRM"),
        "short_name": _("XiaoWei"),
        "start_url": reverse("shop:today"),
        "scope": reverse("shop:today"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "lang": request.LANGUAGE_CODE,
        "icons": [
            {"src": static("shop/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("shop/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("shop/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return JsonResponse(
        data, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False}
    )


SHELL = ("shop/app.css", "shop/htmx-2.0.11.min.js", "shop/app.js", "shop/icon-192.png")


@require_GET
@cache_control(max_age=0, no_cache=True)
def service_worker(request):
    shell = [reverse("shop:offline")] + [static(path) for path in SHELL]
    body = render(
        request,
        "shop/sw.js",
        {"shell": json.dumps(shell), "offline": json.dumps(reverse("shop:offline"))},
        content_type="application/javascript",
    )
    body["Service-Worker-Allowed"] = reverse("shop:today")
    return body


@require_GET
def offline(request):
    return render(request, "shop/offline.html", {"screen": "offline"})


# 9. Campaigns (issue 15) --------------------------------------------------------------------

CAMPAIGNS_LISTED = 20
SEND_PAGE = 20
SAMPLE_CODE = "A1B2C3D4E5"  # a coupon code's shape, for previews only
REFUSALS = {
    "no_consent": gettext_lazy("This customer withdrew their consent to messages: not sent."),
    "blocked": gettext_lazy("This customer is blocked: not sent."),
    "frequency_cap": gettext_lazy(
        "This customer already got a campaign message in the last days: not sent."
    ),
    "campaign_not_running": gettext_lazy("This campaign is not running: not sent."),
}


def _campaign(request, pk) -> Campaign:
    campaign = _get(
        Campaign.objects.for_business(request.business).select_related("coupon_template"), pk
    )
    campaign.business = request.business  # the same row: no second query
    return campaign


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


@member_view(owner_only=True)
@require_GET
def campaigns(request):
    business = request.business
    qs = Campaign.objects.for_business(business)
    sections = (
        ("running", _("Running"), [Campaign.Status.RUNNING, Campaign.Status.PAUSED]),
        ("drafts", _("Drafts"), [Campaign.Status.DRAFT]),
        ("finished", _("Finished"), [Campaign.Status.FINISHED]),
    )
    listed = {key: list(qs.filter(status__in=st)[:CAMPAIGNS_LISTED]) for key, _t, st in sections}
    # How far each one's sending is, in one query; what it earned is on its own page.
    counts = campaign_selectors.campaign_counts(
        business, [c.pk for key in ("running", "finished") for c in listed[key]]
    )
    groups = []
    for key, title, _statuses in sections:
        rows = []
        for campaign in listed[key]:
            if campaign.status == Campaign.Status.DRAFT:
                line = _("Draft · %(kind)s") % {"kind": campaign.get_kind_display()}
            else:
                n = counts[campaign.pk]
                line = _("%(sent)d sent · %(to_send)d to send · %(held)d held out") % {
                    "sent": n["sent"],
                    "to_send": n["scheduled"],
                    "held": n["held_out"],
                }
            rows.append({"campaign": campaign, "line": line})
        groups.append({"key": key, "title": title, "rows": rows})
    return render(request, "shop/campaigns.html", {"screen": "owner", "groups": groups})


def _live(request, form) -> dict:
    """The live count and the message preview for a (bound) campaign form: the audience as
    the campaign would take it, counted by `campaigns.audience.audience_count`."""
    business = request.business
    form.is_valid()  # fills cleaned_data with the fields that are valid
    data = form.cleaned_data
    try:
        audience = parse_audience(form.audience_raw())
    except AudienceError as exc:
        return {"error": " ".join(exc.messages)}
    audience_errors = [
        e for name in (*forms.AUDIENCE_FIELDS, "churn_band") for e in form.errors.get(name, [])
    ]
    if audience_errors:
        return {"error": " ".join(audience_errors)}
    delivery = data.get("delivery") or Campaign.Delivery.STAFF
    control_pct = data.get("control_pct") if "control_pct" not in form.errors else None
    count = audience_count(business, audience, delivery=delivery, control_pct=control_pct or 10)
    live = {"count": count, "automatic": data.get("kind", "") not in ("", Campaign.Kind.ONE_OFF)}
    if "message" in form.errors or not data.get("message"):
        return live
    sample = (
        messageable(business, matching_customers(business, audience), delivery=delivery)
        .order_by("pk")
        .first()
        or Customer.objects.for_business(business).order_by("pk").first()
        or Customer(name=_("Wang Fang"))
    )
    draft = Campaign(business=business, message=data["message"], offer=data.get("offer") or "")
    code = SAMPLE_CODE if data.get("coupon_template") else ""
    live.update({"preview": render_message(draft, sample, code), "sample": sample.name})
    return live


@member_view(owner_only=True)
def campaign_new(request):
    business = request.business
    presets = forms.campaign_presets()
    preset = request.GET.get("preset", "")
    status = 200
    if request.method == "POST":
        form = forms.CampaignForm(request.POST, business=business)
        go = request.POST.get("go", "draft")
        if go in ("draft", "start") and form.is_valid():
            return _campaign_create(request, form, start=go == "start")
        if go in ("draft", "start"):
            status = 400
    else:
        initial = dict(presets.get(preset, {}).get("initial", {}))
        form = forms.CampaignForm(initial=initial, business=business)
    live = _live(request, _bound_copy(form, business))
    context = {
        "screen": "owner",
        "form": form,
        "presets": presets,
        "preset": preset if preset in presets else "",
        "live": live,
    }
    return render(request, "shop/campaign_new.html", context, status=status)


def _bound_copy(form, business):
    """A bound form for the live figures: the posted data, or the starting values."""
    if form.is_bound:
        return form
    data = {}
    for name, field in form.fields.items():
        value = form.get_initial_for_field(field, name)
        if value not in (None, "", []):
            data[name] = value
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for name, value in data.items():
        if isinstance(value, list | tuple):
            query.setlist(name, [str(v) for v in value])
        else:
            query[name] = str(getattr(value, "pk", value))
    return forms.CampaignForm(query, business=business)


@transaction.atomic
def _campaign_create(request, form, *, start: bool):
    data = {name: form.cleaned_data[name] for name in form.Meta.fields}
    data.update(audience=form.instance.audience, churn_threshold=form.instance.churn_threshold)
    campaign = campaign_services.campaign_save(
        business=request.business, data=data, actor=request.user
    )
    if start:
        entered = campaign_services.campaign_start(campaign=campaign, now=timezone.now())
        messages.success(
            request,
            ngettext(
                "Campaign started: %(n)d customer entered.",
                "Campaign started: %(n)d customers entered.",
                entered,
            )
            % {"n": entered},
        )
    else:
        messages.success(request, _("Draft saved."))
    return redirect("shop:campaign", pk=campaign.pk)


@member_view(owner_only=True)
@require_GET
def campaign_count(request):
    """The live count (and message preview) while the owner chooses: an htmx partial."""
    form = forms.CampaignForm(request.GET, business=request.business)
    context = {"live": _live(request, form), "oob": True}
    return render(request, "shop/partials/campaign_live.html", context)


def _results_context(results) -> dict:
    table = campaign_selectors.results_table(results)
    not_sent = [
        {"reason": campaign_selectors.reason_label(reason), "n": n}
        for reason, n in sorted(results.reasons.items(), key=lambda kv: -kv[1])
    ]
    extra_margin, _ci = results.extra_margin
    return {
        "results": results,
        "table": table,
        "not_sent": not_sent,
        "cost": results.money(results.cost),
        "coupon_cost": results.money(results.coupon_cost),
        "message_cost": results.money(results.message_cost),
        "extra_margin": results.money(extra_margin) if results.known else "",
        "net": results.money(results.net) if results.known else "",
    }


@member_view(owner_only=True)
@require_GET
def campaign(request, pk: int):
    business = request.business
    campaign = _campaign(request, pk)
    now = timezone.now()
    context = {
        "screen": "owner",
        "campaign": campaign,
        "audience_words": campaign_selectors.audience_words(campaign.business, campaign.audience),
        "lessons": campaign_selectors.what_worked(business, now),
        "backtest": score_selectors.latest_backtest(business),
    }
    sample = Customer.objects.for_business(business).order_by("pk").first()
    if sample is not None:
        code = SAMPLE_CODE if campaign.coupon_template_id else ""
        context["preview"] = render_message(campaign, sample, code)
    if campaign.status == Campaign.Status.DRAFT:
        try:
            audience = parse_audience(campaign.audience)
        except AudienceError:
            audience = None
        if audience is not None:
            context["count"] = audience_count(
                business, audience, delivery=campaign.delivery, control_pct=campaign.control_pct
            )
    else:
        context.update(_results_context(campaign_selectors.campaign_results(campaign, now)))
    return render(request, "shop/campaign.html", context)


@member_view(owner_only=True)
@require_POST
def campaign_action(request, pk: int, action: str):
    campaign = _campaign(request, pk)
    try:
        if action == "start":
            entered = campaign_services.campaign_start(campaign=campaign, now=timezone.now())
            messages.success(
                request,
                ngettext(
                    "Campaign running: %(n)d customer entered.",
                    "Campaign running: %(n)d customers entered.",
                    entered,
                )
                % {"n": entered},
            )
        elif action == "pause":
            campaign_services.campaign_pause(campaign=campaign)
            messages.success(
                request, _("Campaign paused: nothing more is sent until you start it again.")
            )
        elif action == "finish":
            skipped = campaign_services.campaign_finish(campaign=campaign, now=timezone.now())
            messages.success(
                request,
                ngettext(
                    "Campaign finished: %(n)d message not sent any more.",
                    "Campaign finished: %(n)d messages not sent any more.",
                    skipped,
                )
                % {"n": skipped},
            )
        else:
            raise Http404
    except CampaignRefused as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("shop:campaign", pk=campaign.pk)


# 10. Today's campaign messages (staff and owner) --------------------------------------------


class SmsRedirect(HttpResponseRedirect):
    """A 303 to the phone's SMS app with the text prepared."""

    allowed_schemes = ["sms"]
    status_code = 303


def sms_url(phone: str, text: str) -> str:
    return f"sms:{phone}?body={quote(text, safe='')}"


def _send_row(member, now, **extra) -> dict:
    campaign = member.campaign
    code = "······" if campaign.coupon_template_id else ""
    customer = member.customer
    return {
        "m": member,
        "digits": customer.phone[-4:] if customer.phone else "",
        "preview": render_message(campaign, customer, code),
        **extra,
    }


def _quiet(business, now) -> dict:
    if not campaign_services.in_quiet_hours(business, now):
        return {}
    until = campaign_services.next_send_time(business, now).astimezone(business.zone)
    return {"quiet_until": until.strftime("%H:%M")}


@member_view
@require_GET
def send_list(request):
    business = request.business
    now = timezone.now()
    try:
        page = max(1, min(int(request.GET.get("page", "1")), 500))
    except ValueError:
        page = 1
    qs = campaign_selectors.staff_day_list(business, now)
    context = {"screen": "today", "page": page, **_quiet(business, now)}
    if "quiet_until" in context:
        context.update({"rows": [], "waiting": qs.count()})
    else:
        start = (page - 1) * SEND_PAGE
        chunk = list(qs[start : start + SEND_PAGE + 1])
        context["rows"] = [_send_row(m, now) for m in chunk[:SEND_PAGE]]
        context["next_page"] = page + 1 if len(chunk) > SEND_PAGE else None
        context["previous_page"] = page - 1 if page > 1 else None
    return render(request, "shop/send.html", context)


def _send_member(request, pk):
    """The message row of this business (404 for another business's id)."""
    return _get(
        CampaignMember.objects.for_business(request.business).select_related(
            "campaign__coupon_template", "customer"
        ),
        pk,
    )


@member_view
@require_POST
def send_message(request, pk: int, channel: str):
    """One tap: the service marks the message sent (and issues the coupon), then the SMS app
    opens with the text, or the text is shown to copy into WeChat."""
    business = request.business
    member = _send_member(request, pk)
    now = timezone.now()
    try:
        prepared = campaign_services.member_send_by_staff(
            business=business, member_id=member.pk, user=request.user, channel=channel, now=now
        )
    except CampaignRefused as exc:
        return _send_refused(request, member, " ".join(exc.messages))
    if not prepared.sent:
        return _send_refused(request, member, str(REFUSALS.get(prepared.refusal, prepared.refusal)))
    member.refresh_from_db(fields=["status", "sent_at", "channel", "coupon"])
    if channel == "sms":
        url = sms_url(member.customer.phone, prepared.text)
        if request.htmx:
            response = HttpResponse(status=200)
            response["HX-Trigger"] = json.dumps({"xw-sent": {"row": f"send-{member.pk}"}})
            response["HX-Redirect"] = url
            return response
        return SmsRedirect(url)
    row = _send_row(member, now, text=prepared.text, state="wechat")
    if request.htmx:
        return render(request, "shop/partials/send_row.html", row)
    context = {"screen": "today", "rows": [row], "page": 1, "prepared": True}
    return render(request, "shop/send.html", context)


def _send_refused(request, member, message: str):
    """A refusal: said plainly, nothing else changes."""
    if request.htmx:
        member.refresh_from_db()
        row = _send_row(member, timezone.now(), refused=message)
        return render(request, "shop/partials/send_row.html", row)
    messages.warning(request, message)
    response = redirect("shop:send")
    response.status_code = 303
    return response
