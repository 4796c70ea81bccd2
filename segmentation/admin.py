"""Scores in the back office: on the customer list and page, scoring runs, rescore now.

The customer admin is extended here (segmentation reads customers; never the reverse)."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import BusinessScopedAdminMixin, BusinessScopedInlineMixin, business_for
from customers.admin import CustomerAdmin
from customers.models import Customer
from customers.money import format_money

from .models import Action, CustomerScore, ScoringRun, Segment, Tier
from .run_warnings import translate_warning
from .tasks import score_business_after_commit


def rescore_queue(request) -> bool:
    business = business_for(request.user)
    if business is None:
        return False
    score_business_after_commit(business, ScoringRun.Trigger.MANUAL)
    return True


class ChurnBandFilter(admin.SimpleListFilter):
    title = _("churn risk")
    parameter_name = "churn"
    BANDS = {"low": (0.0, 0.3), "medium": (0.3, 0.6), "high": (0.6, 1.01)}

    def lookups(self, request, model_admin):
        return (
            ("low", _("Low (under 30 %)")),
            ("medium", _("Medium (30–60 %)")),
            ("high", _("High (60 % and more)")),
        )

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        return queryset.filter(
            score__churn_risk__gte=band[0], score__churn_risk__lt=band[1], score__frequency__gt=0
        )


class CustomerScoreInline(BusinessScopedInlineMixin, admin.StackedInline):
    model = CustomerScore
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name_plural = _("customer value")
    fieldsets = (
        (None, {"fields": ("as_of", "explanation")}),
        (
            _("Inputs"),
            {
                "classes": ("collapse",),
                "fields": (
                    ("recency_days", "frequency", "tenure_days"),
                    ("monetary", "total_spent"),
                    ("margin_so_far", "cost_to_serve", "satisfaction"),
                    ("r_score", "f_score", "m_score"),
                    ("p_alive", "expected_purchases_90d", "expected_order_value"),
                    "run",
                ),
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in CustomerScore._meta.fields] + ["explanation"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("how the numbers come about"))
    def explanation(self, score: CustomerScore) -> str:
        currency = score.customer.business.currency
        weights = score.run.parameters.get("settings", {}).get("loyalty_weights", {})
        lines = [
            gettext("Segment %(segment)s: R %(r)s · F %(f)s · M %(m)s (1–5 within your shop).")
            % {
                "segment": score.get_rfm_segment_display(),
                "r": score.r_score,
                "f": score.f_score,
                "m": score.m_score,
            },
            gettext(
                "Churn risk %(risk).0f %%: %(n)s purchases, the last %(days)s days ago, "
                "first %(tenure)s days ago (BG/NBD model)."
            )
            % {
                "risk": score.churn_risk * 100,
                "n": score.frequency,
                "days": score.recency_days,
                "tenure": score.tenure_days,
            },
            gettext(
                "Net value %(net)s = margin so far %(margin)s + predicted margin %(clv)s "
                "− cost to serve %(cost)s."
            )
            % {
                "net": format_money(score.net_value, currency),
                "margin": format_money(score.margin_so_far, currency),
                "clv": format_money(score.predicted_clv, currency),
                "cost": format_money(score.cost_to_serve, currency),
            },
            gettext(
                "Loyalty %(score).0f/100, weights: repeat %(repeat)s, tenure %(tenure)s, "
                "still buying %(alive)s, satisfaction %(sat)s."
            )
            % {
                "score": score.loyalty_score,
                "repeat": weights.get("repeat"),
                "tenure": weights.get("tenure"),
                "alive": weights.get("p_alive"),
                "sat": weights.get("satisfaction"),
            },
            gettext("Recommended: %(action)s.") % {"action": score.get_action_display()},
        ]
        return format_html("<br>".join(["{}"] * len(lines)), *lines)


class ScoredCustomerAdmin(CustomerAdmin):
    list_display = (
        "name",
        "phone",
        "customer_no",
        "status",
        "segment",
        "churn",
        "predicted_value",
        "tier",
        "loyalty",
        "recommended",
        "tag_list",
    )
    list_select_related = ("score", "business")
    list_filter = (
        *CustomerAdmin.list_filter[:1],
        ("score__rfm_segment", admin.ChoicesFieldListFilter),
        ("score__value_tier", admin.ChoicesFieldListFilter),
        ("score__action", admin.ChoicesFieldListFilter),
        ChurnBandFilter,
        *CustomerAdmin.list_filter[1:],
    )
    inlines = (CustomerScoreInline, *CustomerAdmin.inlines)
    actions = (*CustomerAdmin.actions, "rescore_now")

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        if obj is not None and CustomerScore.objects.filter(customer=obj).exists():
            return inlines
        return [i for i in inlines if i is not CustomerScoreInline]

    def _score(self, obj: Customer) -> CustomerScore | None:
        try:
            return obj.score
        except CustomerScore.DoesNotExist:
            return None

    @admin.display(description=_("segment"), ordering="score__rfm_segment")
    def segment(self, obj):
        score = self._score(obj)
        return score.get_rfm_segment_display() if score else "—"

    @admin.display(description=_("churn risk"), ordering="score__churn_risk")
    def churn(self, obj):
        score = self._score(obj)
        if score is None or score.frequency == 0:
            return "—"
        return f"{score.churn_risk * 100:.0f} %"

    @admin.display(description=_("predicted value"), ordering="score__predicted_clv")
    def predicted_value(self, obj):
        score = self._score(obj)
        return format_money(score.predicted_clv, obj.business.currency) if score else "—"

    @admin.display(description=_("tier"), ordering="score__value_tier")
    def tier(self, obj):
        score = self._score(obj)
        return score.value_tier if score else "—"

    @admin.display(description=_("loyalty"), ordering="score__loyalty_score")
    def loyalty(self, obj):
        score = self._score(obj)
        return f"{score.loyalty_score:.0f}" if score else "—"

    @admin.display(description=_("action"), ordering="score__action")
    def recommended(self, obj):
        score = self._score(obj)
        if score is None:
            return "—"
        action = Action(score.action)
        return format_html('<span title="{}">{}</span>', action.label, action.short_label)

    @admin.action(description=_("Rescore all customers now (in the background)"))
    def rescore_now(self, request, queryset):
        if rescore_queue(request):
            self.message_user(request, gettext("Rescoring queued: scores refresh in a moment."))
        else:
            self.message_user(request, gettext("No business to rescore."), messages.ERROR)


admin.site.unregister(Customer)
admin.site.register(Customer, ScoredCustomerAdmin)


@admin.register(ScoringRun)
class ScoringRunAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = ("started_at", "as_of", "trigger", "status", "customers_scored", "duration_s")
    list_filter = ("status", "trigger")
    # The raw JSON columns (warnings, parameters) are shown through translated displays only.
    fields = readonly_fields = (
        "as_of",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "duration_s",
        "customers_scored",
        "parameters_shown",
        "warnings_shown",
        "error",
    )
    show_full_result_count = False

    @admin.display(description=_("fitted parameters"))
    def parameters_shown(self, run: ScoringRun) -> str:
        p = run.parameters or {}
        if not p:
            return "—"
        bg, gg, cfg = p.get("bgnbd", {}), p.get("gamma_gamma", {}), p.get("settings", {})
        sources = {
            "fitted": gettext("fitted to your shop's purchases"),
            "pooled": gettext("pooled from other shops (too little history to fit)"),
            "prior": gettext("published prior (too little history to fit)"),
        }

        def num(value, digits=3):
            return "—" if value is None else f"{value:.{digits}g}"

        rows = [
            (gettext("Customers"), p.get("customers", "—")),
            (gettext("Customers with purchases"), p.get("customers_with_purchases", "—")),
            (gettext("Repeat customers"), p.get("repeat_customers", "—")),
            (
                gettext("Purchase model (BG/NBD)"),
                f"{sources.get(p.get('bgnbd_source'), p.get('bgnbd_source', '—'))}: "
                f"r {num(bg.get('r'))} · α {num(bg.get('alpha'))} · "
                f"a {num(bg.get('a'))} · b {num(bg.get('b'))}",
            ),
            (
                gettext("Spend model (Gamma-Gamma)"),
                f"{gettext('fitted') if p.get('gamma_gamma_fitted') else gettext('prior')}: "
                f"p {num(gg.get('p'))} · q {num(gg.get('q'))} · v {num(gg.get('v'))}",
            ),
            (
                gettext("Horizon and discount"),
                gettext("%(months)s months, %(rate)s %% a year")
                % {
                    "months": cfg.get("horizon_months", "—"),
                    "rate": num((cfg.get("discount_rate_annual") or 0) * 100, 3),
                },
            ),
        ]
        return format_html_join("", "<div><b>{}</b>: {}</div>", rows)

    @admin.display(description=_("warnings"))
    def warnings_shown(self, run: ScoringRun) -> str:
        return (
            format_html_join("", "<p>{}</p>", ((translate_warning(w),) for w in run.warnings))
            or "—"
        )

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "rescore/",
                self.admin_site.admin_view(self.rescore_view),
                name="segmentation_scoringrun_rescore",
            ),
            *super().get_urls(),
        ]

    def rescore_view(self, request):
        if (
            request.method == "POST"
            and self.has_view_permission(request)
            and rescore_queue(request)
        ):
            self.message_user(request, gettext("Rescoring queued: scores refresh in a moment."))
        return HttpResponseRedirect(reverse("admin:segmentation_scoringrun_changelist"))


__all__ = ["Segment", "Tier"]
