from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import (
    BusinessScopedAdminMixin,
    BusinessScopedInlineMixin,
    ScopedRelatedListFilter,
    business_for,
)

from .models import Customer, CustomerMerge, FollowUp, Interaction, Purchase, Tag
from .money import format_money
from .phones import looks_like_phone, search_forms
from .selectors import customer_timeline, customer_totals
from .services import customer_merge, customers_add_tag, customers_set_status


class PhoneSearchMixin:
    """Search by phone in whatever format the user types: 138 0013 8000, +86-138…, 1380013…"""

    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        qs, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if looks_like_phone(term):
            business = business_for(request.user)
            full, digits = search_forms(term, business.phone_region if business else "CN")
            phone_q = Q(**{f"{self.phone_lookup}__contains": digits})
            if full:
                phone_q |= Q(**{self.phone_lookup: full})
            qs = qs | queryset.filter(phone_q)
        return qs, may_have_duplicates


class DuplicateFilter(admin.SimpleListFilter):
    title = _("possible duplicates")
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return (("yes", _("Same name and city as another customer")),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.possible_duplicates().order_by("name", "city", "id")
        return queryset


class CustomerActionForm(ActionForm):
    tag = forms.CharField(label=_("Tag"), required=False, max_length=40)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", "---"), *Customer.Status.choices]
    )


class PurchaseInline(BusinessScopedInlineMixin, admin.TabularInline):
    model = Purchase
    extra = 1
    fields = ("occurred_at", "amount", "cost", "channel", "items", "external_id")
    ordering = ("-occurred_at", "-id")


class InteractionInline(BusinessScopedInlineMixin, admin.TabularInline):
    model = Interaction
    extra = 0
    staff_can_delete = True
    fields = ("occurred_at", "kind", "staff", "summary", "outcome", "cost_minutes", "cost_amount")
    ordering = ("-occurred_at", "-id")


class FollowUpInline(BusinessScopedInlineMixin, admin.TabularInline):
    model = FollowUp
    extra = 0
    staff_can_delete = True
    fields = ("due_on", "task", "assigned_to", "done_at")
    ordering = ("-due_on", "-id")


@admin.register(Tag)
class TagAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    staff_can_delete = True


@admin.register(Customer)
class CustomerAdmin(PhoneSearchMixin, BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "phone",
        "customer_no",
        "status",
        "source",
        "city",
        "assigned_to",
        "tag_list",
        "updated_at",
    )
    list_display_links = ("name",)
    list_filter = (
        "status",
        ("tags", ScopedRelatedListFilter),
        "source",
        ("assigned_to", ScopedRelatedListFilter),
        DuplicateFilter,
    )
    search_fields = ("name", "customer_no", "wechat_id", "email")
    list_select_related = ("assigned_to",)
    list_per_page = 100
    show_full_result_count = False
    ordering = ("-id",)
    autocomplete_fields = ("tags",)
    readonly_fields = ("totals", "timeline", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "phone", "customer_no", "status", "tags", "assigned_to")}),
        (_("History"), {"fields": ("totals", "timeline")}),
        (
            _("Details"),
            {
                "classes": ("collapse",),
                "fields": (
                    "wechat_id",
                    "email",
                    "gender",
                    "birthday",
                    "city",
                    "source",
                    "marketing_consent",
                    "marketing_consent_at",
                    "notes",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )
    inlines = (PurchaseInline, InteractionInline, FollowUpInline)
    action_form = CustomerActionForm
    actions = ("add_tag", "set_status", "merge_two")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing to show in the history of a customer being added
            return [fs for fs in self.fieldsets if fs[0] != _("History")]
        return self.fieldsets

    @admin.display(description=_("tags"))
    def tag_list(self, obj: Customer) -> str:
        return ", ".join(tag.name for tag in obj.tags.all())

    @admin.display(description=_("totals"))
    def totals(self, obj: Customer) -> str:
        totals = customer_totals(obj)
        last = timezone.localtime(totals["last"]).strftime("%Y-%m-%d") if totals["last"] else "—"
        return format_html(
            "{}: <b>{}</b> · {}: <b>{}</b> · {}: <b>{}</b>",
            _("Purchases"),
            totals["count"],
            _("Total spent"),
            format_money(totals["total"], obj.business.currency),
            _("Last purchase"),
            last,
        )

    @admin.display(description=_("timeline"))
    def timeline(self, obj: Customer) -> str:
        events = customer_timeline(obj)
        if not events:
            return _("Nothing yet.")

        def when(event):
            value = event.when
            if hasattr(value, "hour"):
                return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            return value.strftime("%Y-%m-%d")

        return format_html(
            '<ul class="xw-timeline">{}</ul>',
            format_html_join(
                "",
                '<li class="xw-{}"><span class="xw-when">{}</span> <b>{}</b> {} {}</li>',
                (
                    (
                        e.kind,
                        when(e),
                        e.label,
                        "" if e.amount is None else format_money(e.amount, obj.business.currency),
                        e.detail,
                    )
                    for e in events
                ),
            ),
        )

    @admin.action(description=_("Add tag to selected customers"))
    def add_tag(self, request, queryset):
        name = request.POST.get("tag", "")
        try:
            tag = customers_add_tag(
                business=business_for(request.user) or queryset.first().business,
                customers=queryset,
                name=name,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request,
            _("Tag “%(tag)s” added to %(count)d customers.") % {"tag": tag, "count": len(queryset)},
        )

    @admin.action(description=_("Set status of selected customers"))
    def set_status(self, request, queryset):
        try:
            count = customers_set_status(customers=queryset, status=request.POST.get("status", ""))
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%d customer updated.", "%d customers updated.", count) % count,
        )

    @admin.action(description=_("Merge the two selected customers (keeps the older)"))
    def merge_two(self, request, queryset):
        pair = list(queryset.order_by("created_at", "id")[:3])
        if len(pair) != 2:
            self.message_user(request, _("Select exactly two customers to merge."), messages.ERROR)
            return
        target, source = pair
        try:
            customer_merge(source=source, target=target, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        url = reverse("admin:customers_customer_change", args=[target.pk])
        self.message_user(
            request,
            format_html(
                gettext("Merged “{}” into <a href='{}'>{}</a>."), source.name, url, target.name
            ),
        )


@admin.register(Purchase)
class PurchaseAdmin(PhoneSearchMixin, BusinessScopedAdminMixin, admin.ModelAdmin):
    phone_lookup = "customer__phone"
    list_display = ("occurred_at", "customer", "amount", "cost", "channel", "external_id")
    list_select_related = ("customer",)
    list_filter = ("channel",)
    search_fields = ("customer__name", "customer__customer_no", "external_id", "items")
    autocomplete_fields = ("customer",)
    date_hierarchy = "occurred_at"
    list_per_page = 100
    show_full_result_count = False


@admin.register(Interaction)
class InteractionAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    staff_can_delete = True
    list_display = ("occurred_at", "customer", "kind", "staff", "summary", "outcome")
    list_select_related = ("customer", "staff")
    list_filter = ("kind", ("staff", ScopedRelatedListFilter))
    search_fields = ("customer__name", "summary", "outcome")
    autocomplete_fields = ("customer",)
    list_per_page = 100
    show_full_result_count = False


class DueFilter(admin.SimpleListFilter):
    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return (("today", _("Today and overdue")), ("open", _("Not done")), ("done", _("Done")))

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "today":
            return queryset.filter(done_at__isnull=True, due_on__lte=today)
        if self.value() == "open":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(FollowUp)
class FollowUpAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    staff_can_delete = True
    list_display = ("due_on", "customer", "task", "assigned_to", "done_at")
    list_select_related = ("customer", "assigned_to")
    list_filter = (DueFilter, ("assigned_to", ScopedRelatedListFilter))
    search_fields = ("customer__name", "task")
    autocomplete_fields = ("customer",)
    actions = ("mark_done",)

    @admin.action(description=_("Mark selected follow-ups done"))
    def mark_done(self, request, queryset):
        count = queryset.filter(done_at__isnull=True).update(done_at=timezone.now())
        self.message_user(
            request, ngettext("%d follow-up done.", "%d follow-ups done.", count) % count
        )


@admin.register(CustomerMerge)
class CustomerMergeAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    list_display = ("merged_at", "kept", "merged_customer_id", "merged_by")
    list_select_related = ("kept", "merged_by")
    readonly_fields = ("kept", "merged_customer_id", "merged_snapshot", "moved", "merged_by")
    staff_can_add = False
    staff_can_change = False

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
