"""Back office of the member programme. Balances and the ledger are read-only here: every
change goes through a command page (top up, checkout, sell visits, issue a coupon, refund,
adjust, reverse) that calls `membership.services`."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.tenancy import BusinessScopedAdminMixin, business_for, is_operator, is_owner
from customers.exporting import CONTENT_TYPES, FORMATS, export_filename, iter_csv, write_table
from customers.importing import import_file

from . import forms
from .card import card_url, qr_png, qr_svg
from .exporting import balance_table, ledger_csv_rows, ledger_table
from .models import (
    Coupon,
    CouponTemplate,
    LedgerEntry,
    LedgerOperation,
    MemberAccount,
    MemberLevel,
    Programme,
    ReconciliationRun,
    TopUpPackage,
    VisitPackage,
    VisitProduct,
)
from .resources import MEMBER_BALANCES
from .selectors import account_by_card_no, programme_report
from .services import (
    LedgerRefused,
    card_link_renew,
    checkout,
    coupon_issue,
    ledger_adjust,
    operation_reverse,
    programme_for,
    stored_value_refund,
    top_up,
    visit_package_sell,
)


class _ReadOnlyAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    """Rows written only by services: visible, never added, changed or deleted here."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Programme)
class ProgrammeAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "enabled", "points_per_yuan", "point_value", "points_expiry_months")
    fields = ("enabled", "points_per_yuan", "point_value", "points_expiry_months")
    staff_can_change = False

    def has_add_permission(self, request, *args):
        return False  # one per business, created on first use

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        business = None if is_operator(request.user) else business_for(request.user)
        if business is not None:
            programme_for(business)
        return super().changelist_view(request, extra_context=extra_context)


class _SetupAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    staff_can_change = False
    staff_can_add = False


@admin.register(MemberLevel)
class MemberLevelAdmin(_SetupAdmin):
    list_display = ("name", "discount_pct", "reach", "threshold")


@admin.register(TopUpPackage)
class TopUpPackageAdmin(_SetupAdmin):
    list_display = ("name", "pay", "bonus", "active")
    list_filter = ("active",)


@admin.register(VisitProduct)
class VisitProductAdmin(_SetupAdmin):
    list_display = ("name", "visits", "price", "validity_days", "active")
    list_filter = ("active",)


@admin.register(CouponTemplate)
class CouponTemplateAdmin(_SetupAdmin):
    list_display = ("name", "kind", "value", "min_spend", "validity_days")


class VisitPackageInline(admin.TabularInline):
    model = VisitPackage
    fields = ("name", "visits_left", "visits_total", "price", "expires_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


class CouponInline(admin.TabularInline):
    model = Coupon
    fields = ("template", "code", "uses_left", "expires_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


COMMANDS = {
    "top-up": (_("Top up"), forms.TopUpForm),
    "checkout": (_("Checkout"), forms.CheckoutForm),
    "sell-visits": (_("Sell a visit package"), forms.VisitSellForm),
    "issue-coupon": (_("Issue a coupon"), forms.CouponIssueForm),
    "refund": (_("Refund paid value"), forms.RefundForm),
    "adjust": (_("Adjust (owner)"), forms.AdjustForm),
}


@admin.register(MemberAccount)
class MemberAccountAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = ("card_no", "customer", "level", "principal", "bonus", "points", "created_at")
    list_select_related = ("customer", "level")
    search_fields = ("=card_no", "customer__name", "customer__phone", "=customer__customer_no")
    autocomplete_fields = ("customer",)
    list_filter = ("level",)
    ordering = ("-id",)
    show_full_result_count = False
    list_per_page = 50
    fields = ("customer", "card_no", "level", "principal", "bonus", "points", "card_link")
    readonly_fields = ("principal", "bonus", "points", "card_link")
    inlines = (VisitPackageInline, CouponInline)
    change_form_template = "admin/membership/memberaccount/change_form.html"
    change_list_template = "admin/membership/memberaccount/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("customer")  # a card stays with its customer
        if not is_owner(request.user) and not is_operator(request.user):
            fields.append("level")  # levels by hand are the owner's call
        return fields

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/command/<slug:name>/", wrap(self.command_view),
                 name="membership_memberaccount_command"),
            path("<int:pk>/qr.<str:fmt>", wrap(self.qr_view),
                 name="membership_memberaccount_qr"),
            path("<int:pk>/new-link/", wrap(require_POST(self.new_link_view)),
                 name="membership_memberaccount_new_link"),
            path("find/", wrap(self.find_view), name="membership_memberaccount_find"),
            path("report/", wrap(self.report_view), name="membership_memberaccount_report"),
            path("import/", wrap(self.import_view), name="membership_memberaccount_import"),
            path("export/<slug:kind>.<str:fmt>", wrap(self.export_view),
                 name="membership_memberaccount_export"),
            *super().get_urls(),
        ]  # fmt: skip

    @admin.display(description=_("card link"))
    def card_link(self, obj: MemberAccount) -> str:
        if not obj.pk:
            return "—"
        url = card_url(obj)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    def changelist_view(self, request, extra_context=None):
        business = None if is_operator(request.user) else business_for(request.user)
        if business is not None:
            last = ReconciliationRun.objects.for_business(business).first()
            if last is not None and last.difference_count:
                messages.error(
                    request,
                    gettext(
                        "The balance check of %(when)s found %(count)d balance(s) that differ "
                        "from the ledger. Nothing was changed; see Balance checks."
                    )
                    % {
                        "when": last.started_at.strftime("%Y-%m-%d %H:%M"),
                        "count": last.difference_count,
                    },
                )
        extra_context = {**(extra_context or {}), "xw_can_export": is_owner(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        extra_context["xw_commands"] = [
            (name, label)
            for name, (label, _form) in COMMANDS.items()
            if name != "adjust" or is_owner(request.user)
        ]
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _scoped(self, request, pk: int) -> MemberAccount:
        # Another business's id is a 404, like a missing row.
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def command_view(self, request, pk: int, name: str):
        account = self._scoped(request, pk)
        if name not in COMMANDS or (name == "adjust" and not is_owner(request.user)):
            raise Http404
        if not self.has_change_permission(request, account) and not self.has_view_permission(
            request, account
        ):
            raise PermissionDenied
        label, form_class = COMMANDS[name]
        form = form_class(request.POST or None, account=account)
        if request.method == "POST" and form.is_valid():
            try:
                result = self._run(name, account, form.cleaned_data, request)
            except (LedgerRefused, ValidationError) as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(
                    request,
                    gettext("Done. Stored value %(sv)s, points %(pt)s.")
                    % {"sv": result["balance"]["stored_value"], "pt": result["balance"]["points"]},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:membership_memberaccount_change", args=[account.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{label} · {account}",
            "form": form,
            "account": account,
            "key": request.POST.get("key") or _new_key(),
        }
        return TemplateResponse(request, "admin/membership/command.html", context)

    def _run(self, name: str, account: MemberAccount, data: dict, request):
        common = {"account": account, "key": request.POST.get("key", ""), "actor": request.user}
        zero = Decimal("0")
        if name == "top-up":
            return top_up(package=data.get("package"), pay=data.get("pay"),
                          bonus=data.get("bonus"), **common)  # fmt: skip
        if name == "checkout":
            return checkout(
                amount=data["amount"], stored_value=data.get("stored_value") or zero,
                visit_package=data.get("visit_package"), points=data.get("points") or 0,
                coupon=data.get("coupon"), items=data.get("items") or "", channel="admin",
                **common,
            )  # fmt: skip
        if name == "sell-visits":
            return visit_package_sell(product=data["product"], **common)
        if name == "issue-coupon":
            return coupon_issue(template=data["template"], **common)
        if name == "refund":
            return stored_value_refund(amount=data["amount"], reason=data.get("reason", ""),
                                       **common)  # fmt: skip
        return ledger_adjust(
            principal=data.get("principal") or zero, bonus=data.get("bonus") or zero,
            points=data.get("points") or 0, reason=data["reason"], **common,
        )  # fmt: skip

    def qr_view(self, request, pk: int, fmt: str):
        account = self._scoped(request, pk)
        url = card_url(account, request)
        if fmt == "svg":
            response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        elif fmt == "png":
            response = HttpResponse(qr_png(url), content_type="image/png")
        else:
            raise Http404
        response["Cache-Control"] = "private, no-store"
        return response

    def new_link_view(self, request, pk: int):
        account = self._scoped(request, pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        card_link_renew(account=account)
        self.message_user(
            request, gettext("New card link made: the old link and QR code stop working.")
        )
        return HttpResponseRedirect(
            reverse("admin:membership_memberaccount_change", args=[account.pk])
        )

    def find_view(self, request):
        """Staff type or scan a card number and land on the card."""
        form = forms.CardSearchForm(request.GET or None)
        business = business_for(request.user)
        if form.is_valid() and business is not None:
            account = account_by_card_no(business, form.cleaned_data["card_no"])
            if account is not None:
                return HttpResponseRedirect(
                    reverse("admin:membership_memberaccount_change", args=[account.pk])
                )
            form.add_error("card_no", gettext("No card with this number."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Find a card"),
            "form": form,
        }
        return TemplateResponse(request, "admin/membership/find.html", context)

    def export_view(self, request, kind: str, fmt: str):
        """Balances or the whole ledger as CSV/XLSX (owners only, formula-safe)."""
        business = business_for(request.user)
        if business is None or kind not in ("ledger", "balances") or fmt not in FORMATS:
            raise Http404
        if not is_owner(request.user):
            raise PermissionDenied  # staff do not export
        table = ledger_table(business) if kind == "ledger" else balance_table(business)
        name = export_filename(business, f"member-{kind}", fmt)
        if fmt == "csv":
            response = StreamingHttpResponse(iter_csv(table), content_type=CONTENT_TYPES[fmt])
        else:
            buffer = io.BytesIO()
            write_table(table, fmt, buffer)
            response = HttpResponse(buffer.getvalue(), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def import_view(self, request):
        """Opening balances from the old system: upload → preview (dry run) → confirm."""
        business = business_for(request.user)
        if business is None:
            raise Http404
        if not is_owner(request.user):
            raise PermissionDenied  # bulk changes are the owner's
        form = forms.ImportForm(request.POST or None, request.FILES or None)
        report = None
        stored = request.session.get(IMPORT_SESSION_KEY)
        if request.method == "POST" and request.POST.get("confirm") and stored:
            path_ = _import_path(stored["name"])
            if path_ is not None and path_.exists():
                report = import_file(
                    str(path_), business=business, kind=MEMBER_BALANCES,
                    valid_only=stored["valid_only"],
                )  # fmt: skip
                path_.unlink(missing_ok=True)
                del request.session[IMPORT_SESSION_KEY]
                if report.written:
                    self.message_user(request, " ".join(report.summary_lines()), messages.SUCCESS)
                    return HttpResponseRedirect(
                        reverse("admin:membership_memberaccount_changelist")
                    )
        elif request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            name = f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()[:5]}"
            folder = _import_folder()
            with open(folder / name, "wb") as out:
                for piece in upload.chunks():
                    out.write(piece)
            valid_only = form.cleaned_data["valid_only"]
            report = import_file(
                str(folder / name), business=business, kind=MEMBER_BALANCES, dry_run=True,
                valid_only=valid_only,
            )  # fmt: skip
            request.session[IMPORT_SESSION_KEY] = {"name": name, "valid_only": valid_only}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Import member balances"),
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/membership/import.html", context)

    def report_view(self, request):
        business = business_for(request.user)
        if business is None:
            raise Http404
        programme = programme_for(business)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Member programme report"),
            "report": programme_report(business, point_value=programme.point_value),
        }
        return TemplateResponse(request, "admin/membership/report.html", context)


IMPORT_SESSION_KEY = "xw_member_import"


def _import_folder() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "member-imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _import_path(name: str) -> Path | None:
    # Only a name this view made (hex + suffix), never a path from the client.
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        return None
    return _import_folder() / name


def _new_key() -> str:
    return f"admin-{uuid.uuid4().hex}"


@admin.register(LedgerOperation)
class LedgerOperationAdmin(_ReadOnlyAdmin):
    list_display = ("created_at", "command", "key")
    list_filter = ("command",)
    search_fields = ("=key",)
    ordering = ("-id",)
    show_full_result_count = False
    fields = ("created_at", "command", "key", "result")
    readonly_fields = fields
    change_form_template = "admin/membership/ledgeroperation/change_form.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/reverse/", wrap(self.reverse_view),
                 name="membership_ledgeroperation_reverse"),
            *super().get_urls(),
        ]  # fmt: skip

    def reverse_view(self, request, pk: int):
        operation = get_object_or_404(self.get_queryset(request), pk=pk)
        if not is_owner(request.user) and not is_operator(request.user):
            raise PermissionDenied
        form = forms.ReverseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                operation_reverse(
                    operation=operation, reason=form.cleaned_data["reason"],
                    key=request.POST.get("key", ""), actor=request.user,
                )  # fmt: skip
            except (LedgerRefused, ValidationError) as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(request, gettext("Reversed."), messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:membership_ledgeroperation_change", args=[operation.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Reverse %(op)s") % {"op": operation},
            "form": form,
            "key": request.POST.get("key") or _new_key(),
        }
        return TemplateResponse(request, "admin/membership/command.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_ReadOnlyAdmin):
    list_display = (
        "id", "created_at", "account", "kind", "principal", "bonus", "points", "visits",
        "value", "actor_label", "purchase",
    )  # fmt: skip
    list_filter = ("kind",)
    list_select_related = ("account",)
    search_fields = ("=account__card_no", "=idempotency_key")
    ordering = ("-id",)
    show_full_result_count = False
    list_per_page = 100
    actions = ("export_csv",)
    fields = (
        "created_at", "account", "operation", "kind", "principal", "bonus", "points", "visits",
        "coupons", "visit_package", "coupon", "value", "points_expire_at", "reverses",
        "purchase", "actor", "actor_label", "idempotency_key", "reason",
    )  # fmt: skip
    readonly_fields = fields

    @admin.action(description=_("Export the selected entries (CSV)"))
    def export_csv(self, request, queryset):
        if not is_owner(request.user) and not is_operator(request.user):
            raise PermissionDenied  # staff do not export
        business = business_for(request.user)
        response = StreamingHttpResponse(
            ledger_csv_rows(queryset, business), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="ledger.csv"'
        return response


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(_ReadOnlyAdmin):
    list_display = ("started_at", "accounts_checked", "difference_count")
    fields = ("started_at", "finished_at", "accounts_checked", "difference_count", "differences")
    readonly_fields = fields
    ordering = ("-started_at",)
