"""Writes of the weekly report: build (idempotent per business and week), send, PDF, decisions."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.links import public_base_url
from accounts.models import Business, Membership
from customers.models import Customer

from .models import (
    CostReviewDecision,
    ReportDelivery,
    ReportRecipient,
    WeeklyReport,
    WeeklyScoreSnapshot,
)
from .presenting import present
from .selectors import weekly_figures
from .weeks import last_completed_week, report_due_week

logger = logging.getLogger(__name__)
REQUEUE_AFTER = timedelta(minutes=30)


class ReportError(ValueError):
    """Bad input (a week that has not ended, say): a clear message, nothing written."""


def _claim_row(business: Business, week_start: date) -> WeeklyReport:
    try:
        with transaction.atomic():
            report, _created = WeeklyReport.objects.get_or_create(
                business=business, week_start=week_start
            )
    except IntegrityError:  # a twin run created it between our read and write
        report = WeeklyReport.objects.get(business=business, week_start=week_start)
    return report


def weekly_report_build(
    *, business: Business, week_start: date, rebuild: bool = False, now: datetime | None = None
) -> WeeklyReport:
    """Build and store the report of one week. A ready report is returned untouched unless
    `rebuild`; a failed or queued one is built again. One row per business and week."""
    if week_start.weekday() != 0:
        raise ReportError(f"{week_start} is not a Monday.")
    if week_start > last_completed_week(business, now):
        raise ReportError(
            f"The week starting {week_start} has not ended yet in {business.time_zone}."
        )
    report = _claim_row(business, week_start)
    if report.status == WeeklyReport.Status.READY and not rebuild:
        return report
    started = time.perf_counter()
    try:
        data, snapshot = weekly_figures(business, week_start)
    except Exception as exc:
        WeeklyReport.objects.filter(pk=report.pk).update(
            status=WeeklyReport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    with transaction.atomic():
        report = WeeklyReport.objects.select_for_update().get(pk=report.pk)
        report.data = data
        report.status = WeeklyReport.Status.READY
        report.built_at = timezone.now()
        report.build_seconds = round(time.perf_counter() - started, 3)
        report.error = ""
        report.save()
        WeeklyScoreSnapshot.objects.update_or_create(
            business=business,
            week_start=week_start,
            defaults={"data": snapshot, "scores_as_of": data["scores_as_of"]},
        )
    return report


def weekly_reports_claim_due(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """(business id, week) of every active business whose report is due (Monday 07:00 local
    or later) and missing, failed, or queued long ago without finishing; marked queued now.
    Runs every 15 minutes, so a late or failed run catches up on the next one."""
    now = now or timezone.now()
    businesses = list(Business.objects.filter(is_active=True).order_by("pk"))
    weeks = {b.pk: report_due_week(b, now) for b in businesses}
    ready = set(
        WeeklyReport.objects.filter(
            status=WeeklyReport.Status.READY, week_start__in=set(weeks.values())
        ).values_list("business_id", "week_start")
    )  # one query for the usual case: every report already made
    due = []
    for business in businesses:
        week = weeks[business.pk]
        if (business.pk, week) in ready:
            continue
        report = _claim_row(business, week)
        stale = report.queued_at is None or report.queued_at < now - REQUEUE_AFTER
        if report.status != WeeklyReport.Status.READY and stale:
            WeeklyReport.objects.filter(pk=report.pk).update(queued_at=now)
            due.append((business.pk, week.isoformat()))
    return due


def _recipients(business: Business) -> list[ReportRecipient]:
    owners = Membership.objects.filter(business=business, role=Membership.Role.OWNER).values(
        "user_id"
    )
    return list(
        ReportRecipient.objects.for_business(business)
        .filter(active=True, user_id__in=owners, user__is_active=True)
        .select_related("user", "user__membership")
    )


def report_language(business: Business, user: User | None = None) -> str:
    membership = getattr(user, "membership", None) if user else None
    return (membership.language if membership and membership.language else "") or (
        business.language
    )


def _email_parts(report: WeeklyReport, language: str) -> tuple[str, str, str]:
    path = reverse("admin:reports_weeklyreport_change", args=[report.pk])
    with translation.override(language):
        context = {**present(report), "report_url": public_base_url() + path}
        text = render_to_string("reports/email.txt", context)
        html = render_to_string("reports/email.html", {**context, "for_mail": True})
    return context["subject"], text, html


def report_email(
    *, report: WeeklyReport, language: str, to: list[str], parts: dict | None = None
) -> EmailMultiAlternatives:
    """The report as an e-mail in `language`. `parts` (a dict) keeps the rendered subject and
    bodies per language, so several owners reading one language cost one rendering."""
    cache = parts if parts is not None else {}
    if language not in cache:
        cache[language] = _email_parts(report, language)
    subject, text, html = cache[language]
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    message.attach_alternative(html, "text/html")
    return message


def weekly_report_send(*, report: WeeklyReport) -> int:
    """E-mail a ready report to every opted-in owner not yet sent it; returns how many sent.
    The delivery row is written in the same transaction as the send, so a rerun never sends
    twice and a failed send is retried next time."""
    if report.status != WeeklyReport.Status.READY:
        return 0
    sent = 0
    parts: dict[str, tuple[str, str, str]] = {}
    for recipient in _recipients(report.business):
        with transaction.atomic():
            _delivery, created = ReportDelivery.objects.get_or_create(
                business=report.business,
                report=report,
                recipient=recipient,
                defaults={"address": recipient.address},
            )
            if not created:
                continue
            language = report_language(report.business, recipient.user)
            report_email(
                report=report, language=language, to=[recipient.address], parts=parts
            ).send()
            sent += 1
    return sent


def report_pdf(*, report: WeeklyReport, language: str) -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    with translation.override(language):
        html = render_to_string("reports/pdf.html", {**present(report), "for_pdf": True})
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


@transaction.atomic
def cost_review_decide(
    *,
    customer: Customer,
    decision: str,
    actor: User | None,
    note: str = "",
    report: WeeklyReport | None = None,
) -> CostReviewDecision:
    """Record the owner's decision about a customer who costs more than they bring. Nothing
    else changes: the customer, their history and scores stay exactly as they are."""
    row = CostReviewDecision(
        business_id=customer.business_id,
        customer=customer,
        report=report,
        decision=decision,
        note=(note or "").strip(),
        decided_by=actor,
    )
    row.full_clean()
    row.save()
    return row


def demo_report_ensure(*, business: Business) -> WeeklyReport | None:
    """Last week's report for a demo business (scored first when it has no scores yet)."""
    from segmentation.models import CustomerScore, ScoringRun
    from segmentation.services import scoring_run_execute

    if not CustomerScore.objects.for_business(business).exists():
        scoring_run_execute(business=business, as_of=None, trigger=ScoringRun.Trigger.COMMAND)
    week = last_completed_week(business)
    return weekly_report_build(business=business, week_start=week)
