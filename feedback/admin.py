from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.links import absolute_url
from accounts.tenancy import BusinessScopedAdminMixin, business_for, is_operator

from .links import business_token, form_path
from .models import Feedback, FeedbackRequest, FeedbackSettings
from .qr import qr_png, qr_svg
from .selectors import feedback_months
from .services import REASONS, feedback_link_renew, feedback_reply, feedback_settings_for


class NpsGroupFilter(admin.SimpleListFilter):
    title = _("NPS group")
    parameter_name = "nps_group"

    def lookups(self, request, model_admin):
        return Feedback.NpsGroup.choices

    def queryset(self, request, queryset):
        if self.value() in Feedback.NpsGroup.values:
            return queryset.filter(Feedback.group_q(self.value()))
        return queryset


class StarsFilter(admin.SimpleListFilter):
    title = _("stars")
    parameter_name = "stars"

    def lookups(self, request, model_admin):
        return [(str(n), "★" * n) for n in range(5, 0, -1)] + [("none", _("No stars"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(stars__isnull=True)
        if value in {"1", "2", "3", "4", "5"}:
            return queryset.filter(stars=int(value))
        return queryset


class LinkedCustomerFilter(admin.SimpleListFilter):
    title = _("linked customer")
    parameter_name = "linked"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(customer__isnull=False)
        if self.value() == "no":
            return queryset.filter(customer__isnull=True)
        return queryset


@admin.register(Feedback)
class FeedbackAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "nps",
        "nps_group_label",
        "stars_label",
        "topic",
        "status",
        "customer",
        "comment_excerpt",
    )
    list_display_links = ("created_at", "nps")
    list_filter = (
        NpsGroupFilter,
        StarsFilter,
        "topic",
        "status",
        LinkedCustomerFilter,
        "link_kind",
    )
    search_fields = ("comment", "request", "phone", "customer__name")
    list_select_related = ("customer",)
    # Detractors first (lowest score), then newest.
    ordering = ("nps", "-created_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    fieldsets = (
        (
            _("Feedback"),
            {
                "fields": (
                    "created_at",
                    "nps",
                    "nps_group_label",
                    "stars_label",
                    "topic",
                    "comment",
                    "request",
                    "customer",
                    "phone",
                    "link_kind",
                    "language_shown",
                )
            },
        ),
        (_("Triage"), {"fields": ("status", "reply", "replied_by", "replied_at")}),
    )
    readonly_fields = (
        "created_at",
        "nps",
        "nps_group_label",
        "stars_label",
        "topic",
        "comment",
        "request",
        "customer",
        "phone",
        "link_kind",
        "language_shown",
        "replied_by",
        "replied_at",
    )

    def has_add_permission(self, request, *args):
        return False  # feedback comes from customers, through the public page

    @admin.display(description=_("language"))
    def language_shown(self, obj: Feedback) -> str:
        # The page's language as the customer saw it, named in the reader's language.
        return str(dict(settings.LANGUAGES).get(obj.language, obj.language or "—"))

    @admin.display(description=_("NPS group"))
    def nps_group_label(self, obj: Feedback) -> str:
        return Feedback.NpsGroup(obj.nps_group).label

    @admin.display(description=_("stars"), ordering="stars")
    def stars_label(self, obj: Feedback) -> str:
        return obj.stars_text or "—"

    @admin.display(description=_("comment"))
    def comment_excerpt(self, obj: Feedback) -> str:
        return Truncator(obj.comment or obj.request).chars(80)

    def save_model(self, request, obj, form, change):
        if not change:  # pragma: no cover - adding is not allowed
            raise PermissionDenied
        feedback_reply(
            feedback=obj,
            status=form.cleaned_data["status"],
            reply=form.cleaned_data.get("reply", ""),
            actor=request.user,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        business = None if is_operator(request.user) else business_for(request.user)
        if business is not None:
            months, total = feedback_months(business)
            extra_context["xw_months"] = months
            extra_context["xw_total"] = total
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(FeedbackSettings)
class FeedbackSettingsAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "enabled", "request_delay_hours", "link_version")
    fields = ("enabled", "request_delay_hours", "link_version")
    readonly_fields = ("link_version",)
    actions = ("new_link",)
    staff_can_change = False  # staff may show and print the code, owners change settings

    def has_add_permission(self, request, *args):
        return False  # one per business, created on first use

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/qr.<str:fmt>",
                wrap(self.qr_view),
                name="feedback_feedbacksettings_qr",
            ),
            path(
                "<int:pk>/new-link/",
                wrap(self.new_link_view),
                name="feedback_feedbacksettings_new_link",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        business = None if is_operator(request.user) else business_for(request.user)
        if business is not None:
            feedback_settings_for(business)  # so the owner finds their settings here
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["xw_link"] = absolute_url(form_path(business_token(obj)), request)
            extra_context["xw_can_renew"] = self.has_change_permission(request, obj)
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _scoped_object(self, request, pk: int) -> FeedbackSettings:
        # Another business's id is a 404, like a missing row.
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def qr_view(self, request, pk: int, fmt: str):
        obj = self._scoped_object(request, pk)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        url = absolute_url(form_path(business_token(obj)), request)
        if fmt == "svg":
            response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        elif fmt == "png":
            response = HttpResponse(qr_png(url), content_type="image/png")
        else:
            raise Http404
        if request.GET.get("download"):
            response["Content-Disposition"] = (
                f'attachment; filename="feedback-{obj.business.slug}.{fmt}"'
            )
        response["Cache-Control"] = "private, no-store"
        return response

    def _confirm_new_link(self, request, settings_list, hidden: list[tuple[str, str]]):
        """A new link retires every printed code: ask before doing it (issue 10, item 6)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Make a new feedback link?"),
            "businesses": [fs.business for fs in settings_list],
            "hidden": hidden,
            "cancel_url": (
                reverse("admin:feedback_feedbacksettings_change", args=[settings_list[0].pk])
                if len(settings_list) == 1
                else reverse("admin:feedback_feedbacksettings_changelist")
            ),
        }
        return TemplateResponse(
            request, "admin/feedback/feedbacksettings/new_link_confirm.html", context
        )

    def new_link_view(self, request, pk: int):
        obj = self._scoped_object(request, pk)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if request.method != "POST" or request.POST.get("confirm") != "yes":
            return self._confirm_new_link(request, [obj], [])
        feedback_link_renew(business=obj.business)
        self.message_user(
            request, gettext("New feedback link made: older links and printed codes stop working.")
        )
        return HttpResponseRedirect(
            reverse("admin:feedback_feedbacksettings_change", args=[obj.pk])
        )

    @admin.action(description=_("New link (older links and printed codes stop working)"))
    def new_link(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        selected = list(queryset.select_related("business"))
        if request.POST.get("confirm") != "yes":
            hidden = [("action", "new_link")] + [
                (admin.helpers.ACTION_CHECKBOX_NAME, str(fs.pk)) for fs in selected
            ]
            return self._confirm_new_link(request, selected, hidden)
        for fs in selected:
            feedback_link_renew(business=fs.business)
        self.message_user(
            request,
            gettext("New feedback link made: older links and printed codes stop working."),
            messages.SUCCESS,
        )


@admin.register(FeedbackRequest)
class FeedbackRequestAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "due_at",
        "customer",
        "status",
        "reason_label",
        "sent_at",
        "channel",
        "send_count",
    )
    list_filter = ("status",)
    list_select_related = ("customer",)
    search_fields = ("customer__name",)
    ordering = ("-due_at", "-id")
    list_per_page = 100
    show_full_result_count = False
    fields = (
        "customer",
        "purchase",
        "due_at",
        "status",
        "reason_label",
        "sent_at",
        "channel",
        "send_count",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reason"))
    def reason_label(self, obj: FeedbackRequest) -> str:
        code, _sep, detail = obj.reason.partition(":")
        label = REASONS.get(code)
        if label is None:
            return obj.reason
        return f"{label}: {detail.strip()}" if detail.strip() else str(label)
