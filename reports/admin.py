from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.tenancy import (
    BusinessScopedAdminMixin,
    business_for,
    is_operator,
    is_owner,
)

from .models import CostReviewDecision, ReportRecipient, WeeklyReport
from .presenting import present
from .selectors import report_neighbours
from .services import cost_review_decide, report_pdf


class OwnerOnlyMixin(BusinessScopedAdminMixin):
    """Reports show customer value and money: the business's owners only (not staff, and not
    the operator, who never needs to read a business's customers)."""

    def _member_rights(self, request):
        if is_operator(request.user) or not request.user.is_staff:
            return False, False
        owner = is_owner(request.user)
        return owner, owner


@admin.register(WeeklyReport)
class WeeklyReportAdmin(OwnerOnlyMixin, admin.ModelAdmin):
    list_display = ("week", "period", "status", "built_at", "sent_to")
    list_filter = ("status",)
    ordering = ("-week_start",)
    show_full_result_count = False

    @admin.display(description=_("week"), ordering="week_start")
    def week(self, obj: WeeklyReport) -> str:
        return obj.week_label

    @admin.display(description=_("week starting"))
    def period(self, obj: WeeklyReport):
        return obj.week_start

    @admin.display(description=_("e-mailed to"), ordering="n_sent")
    def sent_to(self, obj: WeeklyReport) -> int:
        return obj.n_sent

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data").annotate(n_sent=Count("deliveries"))

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="reports_weeklyreport_pdf",
            ),
            *super().get_urls(),
        ]

    def _report(self, request, object_id) -> WeeklyReport:
        """A ready report of the user's own business, or 404 (another business's id too)."""
        if not self.has_view_permission(request):
            raise Http404
        try:
            pk = int(unquote(object_id))
            return (
                self.get_queryset(request)
                .defer(None)
                .select_related("business")
                .get(pk=pk, status=WeeklyReport.Status.READY)
            )
        except (WeeklyReport.DoesNotExist, ValueError, OverflowError):
            raise Http404(_("No such report.")) from None

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self._report(request, object_id)
        earlier, later = report_neighbours(report)
        context = {
            **self.admin_site.each_context(request),
            **present(report),
            "opts": self.model._meta,
            "title": _("Weekly report %(week)s") % {"week": report.week_label},
            "earlier": earlier,
            "later": later,
            "decide_url": reverse("admin:reports_costreviewdecision_add"),
        }
        return TemplateResponse(request, "admin/reports/weeklyreport/report.html", context)

    def pdf_view(self, request, object_id):
        report = self._report(request, object_id)
        pdf = report_pdf(report=report, language=translation.get_language())
        response = HttpResponse(pdf, content_type="application/pdf")
        filename = f"report-{report.business.slug}-{report.week_label}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(ReportRecipient)
class ReportRecipientAdmin(OwnerOnlyMixin, admin.ModelAdmin):
    list_display = ("user", "address", "active")
    fields = ("user", "email", "active")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user":
            field.queryset = field.queryset.filter(
                membership__business=business_for(request.user),
                membership__role=Membership.Role.OWNER,
            )
        return field

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}


@admin.register(CostReviewDecision)
class CostReviewDecisionAdmin(OwnerOnlyMixin, admin.ModelAdmin):
    list_display = ("customer", "decision", "decided_by", "decided_at", "report")
    list_filter = ("decision",)
    list_select_related = ("customer", "decided_by", "report")
    search_fields = ("customer__name", "note")
    autocomplete_fields = ("customer",)
    fields = ("customer", "decision", "note", "report")
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # a decision is a record: a new decision is added, never rewritten

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if initial.get("decision") not in CostReviewDecision.Decision.values:
            initial.pop("decision", None)
        return initial

    def save_model(self, request, obj, form, change):
        saved = cost_review_decide(
            customer=obj.customer,
            decision=obj.decision,
            note=obj.note,
            report=obj.report,
            actor=request.user,
        )
        obj.pk, obj.decided_by, obj.decided_at = saved.pk, saved.decided_by, saved.decided_at

    def response_add(self, request, obj, post_url_continue=None):
        if obj.report_id:
            return HttpResponseRedirect(
                reverse("admin:reports_weeklyreport_change", args=[obj.report_id])
            )
        return super().response_add(request, obj, post_url_continue)
