"""Back office of campaigns. The audience is edited as real fields (built into the JSON by
`parse_audience`), the live count answers from a small JSON view, and start / pause /
finish go through `campaigns.services` (owners only). A started campaign is read-only and
shows its results; its members (the sends and the random groups) are read-only rows."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import (
    BusinessScopedAdminMixin,
    ScopedRelatedListFilter,
    business_for,
    is_operator,
    is_owner,
)

from .audience import audience_count, parse_audience
from .forms import AudienceCountForm, AudienceFieldsForm, audience_initial
from .models import Campaign, CampaignMember
from .selectors import audience_words, campaign_results, reason_label, results_table
from .services import CampaignRefused, campaign_finish, campaign_pause, campaign_start

AUDIENCE_FORM_FIELDS = tuple(AudienceFieldsForm.base_fields)
MESSAGE_FIELDS = ("name", "kind", "message", "offer", "coupon_template", "delivery")
MEASURE_FIELDS = ("control_pct", "window_days", "cost_per_message")
TRIGGER_FIELDS = ("churn_threshold", "days_before", "points_threshold", "ends_on")
STATE_FIELDS = ("status", "created_by", "created_at", "started_at", "finished_at")


class CampaignAdminForm(AudienceFieldsForm, forms.ModelForm):
    xw_business = None  # set by CampaignAdmin.get_form

    class Meta:
        model = Campaign
        fields = (*MESSAGE_FIELDS, *MEASURE_FIELDS, *TRIGGER_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        business = self.instance.business if self.instance.business_id else self.xw_business
        self.set_business(business)
        if self.instance.pk and not self.is_bound:
            for name, value in audience_initial(self.instance.audience).items():
                self.initial.setdefault(name, value)

    def clean(self):
        cleaned = super().clean()
        audience = self.clean_audience()
        if audience is not None:
            self.instance.audience = audience
        return cleaned


def count_words(count) -> str:
    return gettext(
        "%(matching)d customers match; %(messageable)d may be messaged (consent, reachable, "
        "not messaged recently): about %(recipients)d get the message and %(control)d are "
        "held out."
    ) % {
        "matching": count.matching,
        "messageable": count.messageable,
        "recipients": count.recipients,
        "control": count.control,
    }


@admin.register(Campaign)
class CampaignAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ("name", "kind", "status", "delivery", "control_pct", "started_at")
    list_filter = ("status", "kind", "delivery")
    search_fields = ("name",)
    ordering = ("-created_at", "-id")
    actions = ("start_selected", "pause_selected", "finish_selected")
    # Campaigns message customers and cost coupons: staff look, owners act.
    staff_can_add = False
    staff_can_change = False
    change_form_template = "admin/campaigns/campaign/change_form.html"

    # --- who may do what ---

    def has_owner_permission(self, request) -> bool:
        return is_owner(request.user)

    def has_delete_permission(self, request, obj=None):
        # A started campaign's rows are the record of who was messaged (the frequency cap
        # and the results read them): only drafts are deleted.
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _editable(self, request, obj) -> bool:
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    # --- the form ---

    def get_fieldsets(self, request, obj=None):
        if self._editable(request, obj):
            audience = {"fields": AUDIENCE_FORM_FIELDS}
        else:
            audience = {"fields": ("audience_shown",)}
        return [
            (None, {"fields": MESSAGE_FIELDS}),
            (_("Audience"), audience),
            (_("Control group and results"), {"fields": MEASURE_FIELDS}),
            (_("Automatic campaigns"), {"fields": TRIGGER_FIELDS, "classes": ("collapse",)}),
            (_("State"), {"fields": STATE_FIELDS}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if self._editable(request, obj):
            return STATE_FIELDS
        return (*MESSAGE_FIELDS, "audience_shown", *MEASURE_FIELDS, *TRIGGER_FIELDS,
                *STATE_FIELDS)  # fmt: skip

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, CampaignAdminForm):
            business = None if is_operator(request.user) else business_for(request.user)
            form = type(form.__name__, (form,), {"xw_business": business})
        return form

    @admin.display(description=_("audience"))
    def audience_shown(self, obj: Campaign) -> str:
        return "; ".join(audience_words(obj.business, obj.audience))

    def save_model(self, request, obj, form, change):
        if not change and request.user.pk:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    # --- pages ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("count/", wrap(self.count_view), name="campaigns_campaign_count"),
            path("<int:pk>/command/<slug:command>/", wrap(self.command_view),
                 name="campaigns_campaign_command"),
            *super().get_urls(),
        ]  # fmt: skip

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context.update(self._state_context(request, obj))
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "xw_count_url": reverse("admin:campaigns_campaign_count"),
            "xw_editable": self._editable(request, None),
        }
        return super().add_view(request, form_url, extra_context=extra_context)

    def _state_context(self, request, obj: Campaign) -> dict:
        owner = is_owner(request.user)
        status = obj.status
        commands = []
        if owner and status in (Campaign.Status.DRAFT, Campaign.Status.PAUSED):
            label = gettext("Start") if status == Campaign.Status.DRAFT else gettext("Resume")
            commands.append(("start", label))
        if owner and status == Campaign.Status.RUNNING:
            commands.append(("pause", gettext("Pause")))
        if owner and status != Campaign.Status.FINISHED:
            commands.append(("finish", gettext("Finish")))
        context = {
            "xw_commands": commands,
            "xw_count_url": reverse("admin:campaigns_campaign_count"),
            "xw_editable": self._editable(request, obj),
        }
        if status == Campaign.Status.DRAFT:
            count = audience_count(
                obj.business, parse_audience(obj.audience), delivery=obj.delivery,
                control_pct=obj.control_pct,
            )  # fmt: skip
            context["xw_count_words"] = count_words(count)
        else:
            results = campaign_results(obj)
            context["xw_results"] = results
            context["xw_results_table"] = results_table(results)
            context["xw_costs"] = {
                "coupons": results.money(results.coupon_cost),
                "messages": results.money(results.message_cost),
                "total": results.money(results.cost),
            }
            context["xw_reasons"] = [
                (reason_label(code), n) for code, n in sorted(results.reasons.items())
            ]
            members = reverse("admin:campaigns_campaignmember_changelist")
            context["xw_members_url"] = f"{members}?campaign__id__exact={obj.pk}"
        return context

    def count_view(self, request):
        """The live audience count for the form's current values (JSON)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        business = business_for(request.user)
        if business is None:
            raise Http404
        form = AudienceCountForm(request.POST, business=business)
        audience = form.clean_audience() if form.is_valid() else None
        if audience is None:
            errors = {name: [str(m) for m in msgs] for name, msgs in form.errors.items()}
            return JsonResponse({"errors": errors}, status=400)
        count = audience_count(
            business, parse_audience(audience),
            delivery=form.cleaned_data.get("delivery") or Campaign.Delivery.STAFF,
            control_pct=form.cleaned_data.get("control_pct") or 10,
        )  # fmt: skip
        return JsonResponse(
            {
                "matching": count.matching,
                "messageable": count.messageable,
                "control": count.control,
                "recipients": count.recipients,
                "words": count_words(count),
            }
        )

    def command_view(self, request, pk: int, command: str):
        """Start, pause or finish one campaign (POST, owners only), through the services."""
        campaign = get_object_or_404(self.get_queryset(request), pk=pk)
        if command not in ("start", "pause", "finish"):
            raise Http404
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not is_owner(request.user):
            raise PermissionDenied
        self._run(request, campaign, command)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def _run(self, request, campaign: Campaign, command: str) -> bool:
        try:
            if command == "start":
                entered = campaign_start(campaign=campaign)
                words = ngettext(
                    "%(name)s is running: %(n)d customer entered.",
                    "%(name)s is running: %(n)d customers entered.",
                    entered,
                ) % {"name": campaign.name, "n": entered}
            elif command == "pause":
                campaign_pause(campaign=campaign)
                words = gettext("%(name)s is paused: nothing is sent until you resume it.") % {
                    "name": campaign.name
                }
            else:
                stopped = campaign_finish(campaign=campaign, reason="campaign_finished")
                words = gettext(
                    "%(name)s has finished; %(n)d messages not sent by now will not be sent."
                ) % {"name": campaign.name, "n": stopped}
        except CampaignRefused as exc:
            self.message_user(request, f"{campaign.name}: {' '.join(exc.messages)}", messages.ERROR)
            return False
        self.message_user(request, words, messages.SUCCESS)
        return True

    def _bulk(self, request, queryset, command: str) -> None:
        for campaign in queryset.select_related("business"):
            self._run(request, campaign, command)

    @admin.action(description=_("Start the selected campaigns"), permissions=("owner",))
    def start_selected(self, request, queryset):
        self._bulk(request, queryset, "start")

    @admin.action(description=_("Pause the selected campaigns"), permissions=("owner",))
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, "pause")

    @admin.action(description=_("Finish the selected campaigns"), permissions=("owner",))
    def finish_selected(self, request, queryset):
        self._bulk(request, queryset, "finish")


@admin.register(CampaignMember)
class CampaignMemberAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    """Who entered which campaign, their random group and their send: written only by the
    services, never here."""

    list_display = (
        "customer", "campaign", "group", "status", "due_at", "sent_at", "channel", "reason_shown",
    )  # fmt: skip
    list_filter = (("campaign", ScopedRelatedListFilter), "group", "status")
    list_select_related = ("customer", "campaign")
    search_fields = ("customer__name", "=customer__phone", "=customer__customer_no")
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "campaign", "customer", "occasion", "group", "status", "entered_at", "due_at",
        "segment", "tier", "churn_risk", "sent_at", "channel", "sent_by", "reason_shown",
        "coupon", "attempts",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reason"))
    def reason_shown(self, obj: CampaignMember) -> str:
        return reason_label(obj.reason) if obj.reason else ""
