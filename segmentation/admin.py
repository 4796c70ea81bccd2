"""Scores in the back office: on the customer list and page, scoring runs, rescore now.

The customer admin is extended here (segmentation reads customers; never the reverse)."""

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import BusinessScopedAdminMixin, BusinessScopedInlineMixin, business_for
from customers.admin import CustomerAdminExtension
from customers.models import Customer
from customers.money import format_money

from .models import Action, CustomerScore, ScoringRun, Segment, Tier
from .run_warnings import translate_warning
from .tasks import score_business_after_commit
from .wording import how_computed, percent, plain_explanation

CHURN_HEADER = format_lazy(
    _("chance not to come back in {days} days"), days=settings.XW_SCORING["churn_window_days"]
)


def rescore_queue(request) -> bool:
    business = business_for(request.user)
    if business is None:
        return False
    score_business_after_commit(business, ScoringRun.Trigger.MANUAL)
    return True


class ChurnBandFilter(admin.SimpleListFilter):
    title = CHURN_HEADER
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
        (None, {"fields": ("as_of", "churn_shown", "explanation")}),
        (_("How is this computed"), {"classes": ("collapse",), "fields": ("details",)}),
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
                    ("predicted_clv", "value_at_stake"),
                    "run",
                ),
            },
        ),
    )

    def has_view_permission(self, request, obj=None):
        # Only on a customer who has a score: no empty "customer value" box before the first
        # run, none on the add page. (Django also asks with obj=None while building a change
        # page, so the add page is told apart by its URL.)
        match = getattr(request, "resolver_match", None)
        if obj is None and match is not None and match.url_name == "customers_customer_add":
            return False
        if obj is not None and not self._has_score(obj):
            return False
        return super().has_view_permission(request, obj)

    @staticmethod
    def _has_score(customer) -> bool:
        # Asked several times per change page: one query, remembered on the customer.
        has = getattr(customer, "_xw_has_score", None)
        if has is None:
            scores = CustomerScore.objects.for_business(customer.business_id)
            has = customer._xw_has_score = scores.filter(customer=customer).exists()
        return has

    def has_delete_permission(self, request, obj=None):
        return False  # scores are replaced by runs, never deleted by hand

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in CustomerScore._meta.fields] + [
            "churn_shown",
            "explanation",
            "details",
        ]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=CHURN_HEADER)
    def churn_shown(self, score: CustomerScore) -> str:
        return percent(score.churn_risk) if score.frequency else gettext("has not bought yet")

    @admin.display(description=_("in plain words"))
    def explanation(self, score: CustomerScore) -> str:
        return plain_explanation(score, score.customer.business)

    @admin.display(description=_("model details"))
    def details(self, score: CustomerScore) -> str:
        lines = how_computed(score, score.customer.business)
        return format_html("<br>".join(["{}"] * len(lines)), *lines)


def _score(customer: Customer) -> CustomerScore | None:
    try:
        return customer.score
    except CustomerScore.DoesNotExist:
        return None


@admin.display(description=_("segment"), ordering="score__rfm_segment")
def segment(customer: Customer) -> str:
    score = _score(customer)
    return score.get_rfm_segment_display() if score else "—"


@admin.display(description=CHURN_HEADER, ordering="score__churn_risk")
def churn(customer: Customer) -> str:
    score = _score(customer)
    if score is None or score.frequency == 0:
        return "—"
    return percent(score.churn_risk)


@admin.display(description=_("value at stake"), ordering="-score__value_at_stake")
def at_stake(customer: Customer) -> str:
    score = _score(customer)
    return format_money(score.value_at_stake, customer.business.currency) if score else "—"


@admin.display(description=_("predicted value"), ordering="score__predicted_clv")
def predicted_value(customer: Customer) -> str:
    score = _score(customer)
    return format_money(score.predicted_clv, customer.business.currency) if score else "—"


@admin.display(description=_("tier"), ordering="score__value_tier")
def tier(customer: Customer) -> str:
    score = _score(customer)
    return score.value_tier if score else "—"


@admin.display(description=_("loyalty"), ordering="score__loyalty_score")
def loyalty(customer: Customer) -> str:
    score = _score(customer)
    return f"{score.loyalty_score:.0f}" if score else "—"


@admin.display(description=_("action"), ordering="score__action")
def recommended(customer: Customer) -> str:
    score = _score(customer)
    if score is None:
        return "—"
    action = Action(score.action)
    return format_html('<span title="{}">{}</span>', action.label, action.short_label)


@admin.action(description=_("Rescore all customers now (in the background)"))
def rescore_now(modeladmin, request, queryset):
    if rescore_queue(request):
        modeladmin.message_user(request, gettext("Rescoring queued: scores refresh in a moment."))
    else:
        modeladmin.message_user(request, gettext("No business to rescore."), messages.ERROR)


# Registered on the customer admin from SegmentationConfig.ready() (customers never imports
# segmentation; this is its extension point, like the timeline's).
CUSTOMER_EXTENSION = CustomerAdminExtension(
    key="segmentation",
    columns=(segment, churn, at_stake, predicted_value, tier, loyalty, recommended),
    filters=(
        ("score__rfm_segment", admin.ChoicesFieldListFilter),
        ("score__value_tier", admin.ChoicesFieldListFilter),
        ("score__action", admin.ChoicesFieldListFilter),
        ChurnBandFilter,
    ),
    select_related=("score", "business"),
    inlines=(CustomerScoreInline,),
    actions=(rescore_now,),
    replaces=("source", "city", "assigned_to", "updated_at"),
)


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
        "backtest_shown",
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
                gettext("Purchase model (%(model)s)")
                % {"model": {"mbgnbd": "MBG/NBD"}.get(p.get("model"), "BG/NBD")},
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

    @admin.display(description=_("how the predictions held up"))
    def backtest_shown(self, run: ScoringRun) -> str:
        return backtest_html(run.backtest) or "—"

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


def _pct(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f} %"


def _num(value, digits: int = 3) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def backtest_html(figures: dict) -> str:
    """The calibration table and ranking figures of a backtest, for the run's page."""
    if not figures or "churn" not in figures:
        return ""
    churn, base = figures["churn"], figures["recency_baseline"]
    head = format_html(
        "<p>{}</p>",
        gettext(
            "Scored as of %(as_of)s, checked against the next %(days)s days: %(n)s customers, "
            "%(back)s came back."
        )
        % {
            "as_of": figures["as_of"],
            "days": figures["days"],
            "n": figures["customers"],
            "back": figures["came_back"],
        },
    )
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                c["decile"],
                c["customers"],
                _pct(c["predicted"]),
                _pct(c["actual"]),
                _num(p["predicted"], 2),
                _num(p["actual"], 2),
            )
            for c, p in zip(churn["deciles"], figures["purchases"]["deciles"], strict=False)
        ),
    )
    table = format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
        "</tr></thead><tbody>{}</tbody></table>",
        gettext("decile"),
        gettext("customers"),
        gettext("predicted share not back"),
        gettext("actual share not back"),
        gettext("predicted purchases each"),
        gettext("actual purchases each"),
        rows,
    )
    ranking = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (gettext("chance not to come back"), _num(churn["auc"]), _num(churn["brier"]),
             _pct(churn["max_gap"])),
            (gettext("days since last visit alone"), _num(base["auc"]), _num(base["brier"]),
             _pct(base["max_gap"])),
            (gettext("loyalty score"), _num(figures.get("loyalty_auc")), "—", "—"),
            (gettext("probability still a customer"), _num(figures.get("p_alive_auc")), "—",
             "—"),
        ),
    )  # fmt: skip
    ranking_table = format_html(
        "<table><thead><tr><th></th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        gettext("AUC for “came back” (higher is better)"),
        gettext("Brier score (lower is better)"),
        gettext("largest decile gap"),
        ranking,
    )
    purchases = figures["purchases"]
    total = format_html(
        "<p>{}</p>",
        gettext("Purchases: predicted %(pred)s (without seasons %(flat)s), actual %(actual)s.")
        % {
            "pred": purchases["predicted_total"],
            "flat": purchases["predicted_total_without_seasons"],
            "actual": purchases["actual_total"],
        },
    )
    return format_html("{}{}{}{}", head, table, ranking_table, total)


__all__ = ["Segment", "Tier", "backtest_html"]
