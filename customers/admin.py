from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import (
    BusinessScopedAdminMixin,
    BusinessScopedInlineMixin,
    ScopedRelatedListFilter,
    business_for,
)

from .admin_filters import PhoneNeedsCheckingFilter, TagSearchFilter
from .exporting import customer_table, purchase_table

# The import/export admin lives beside the import pipeline; importing it also registers the
# import jobs' admin.
from .importing.admin import ImportExportMixin
from .models import Customer, CustomerMerge, FollowUp, ImportJob, Interaction, Purchase, Tag
from .money import format_money
from .phones import looks_like_phone, phone_search_q
from .selectors import customer_timeline, customer_totals
from .services import (
    customer_merge,
    customers_add_tag,
    customers_set_status,
    follow_ups_mark_done,
)


@dataclass(frozen=True)
class CustomerAdminExtension:
    """What a higher app adds to the customer admin, without subclassing or re-registering it.

    customers never imports the apps above it (docs/architecture.md), so an app such as segmentation
    that wants its own columns, filters, inline or actions on the customer list registers one
    of these from its ``AppConfig.ready()``, the same way it would register a timeline source
    (``customers.selectors.register_timeline_source``)::

        def ready(self):
            from customers.admin import CustomerAdminExtension, register_customer_admin_extension

            register_customer_admin_extension(
                CustomerAdminExtension(
                    key="segmentation",
                    columns=(segment_column, churn_column),   # admin.display'ed callables
                    filters=(ChurnBandFilter, ("score__value_tier", admin.ChoicesFieldListFilter)),
                    select_related=("score",),
                    replaces=("source", "city"),               # keep the list narrow on a phone
                )
            )

    - ``columns``: callables ``(customer) -> str`` (decorate them with ``@admin.display`` for a
      heading and ``ordering``); inserted in ``list_display`` right after the status column.
    - ``filters``: ``list_filter`` entries (a field path, a ``(path, FilterClass)`` pair or a
      ``SimpleListFilter``); inserted right after the status filter. Field-path filters are
      allowed as lookups because Django asks ``get_list_filter()``.
    - ``select_related``: added to ``list_select_related``, so the columns cost no query per row.
    - ``inlines``: inline classes shown on the customer page (put first, before purchases).
    - ``actions``: action callables ``(modeladmin, request, queryset)``, decorated with
      ``@admin.action``; shown to everyone who may change customers.
    - ``replaces``: names of the base columns the extension's columns stand in for.

    Registering the same ``key`` twice replaces the earlier registration, so a reloaded
    ``ready()`` (tests, autoreload) never duplicates columns. Extensions apply in registration
    order. Tenancy is unchanged: every extension works on the scoped queryset of this admin.
    """

    key: str
    columns: Sequence[Callable] = ()
    filters: Sequence = ()
    select_related: Sequence[str] = ()
    inlines: Sequence[type] = ()
    actions: Sequence[Callable] = ()
    replaces: Sequence[str] = ()


CUSTOMER_ADMIN_EXTENSIONS: dict[str, CustomerAdminExtension] = {}


def register_customer_admin_extension(extension: CustomerAdminExtension) -> None:
    """Add (or replace, by ``key``) a higher app's columns, filters, inlines and actions."""
    CUSTOMER_ADMIN_EXTENSIONS[extension.key] = extension


def unregister_customer_admin_extension(key: str) -> None:
    CUSTOMER_ADMIN_EXTENSIONS.pop(key, None)


def _insert_after(items: Sequence, anchor, extra: Sequence) -> list:
    """``items`` with ``extra`` right after ``anchor`` (or at the end without it)."""
    items = list(items)
    position = items.index(anchor) + 1 if anchor in items else len(items)
    return [*items[:position], *extra, *items[position:]]


class CustomerAdminExtensionsMixin:
    """Applies CUSTOMER_ADMIN_EXTENSIONS to the customer admin, at request time."""

    def get_list_display(self, request):
        extensions = CUSTOMER_ADMIN_EXTENSIONS.values()
        replaced = {name for ext in extensions for name in ext.replaces}
        columns = [c for ext in extensions for c in ext.columns]
        base = [c for c in super().get_list_display(request) if c not in replaced]
        return _insert_after(base, "status", columns)

    def get_list_filter(self, request):
        filters = [f for ext in CUSTOMER_ADMIN_EXTENSIONS.values() for f in ext.filters]
        return _insert_after(super().get_list_filter(request), "status", filters)

    def get_list_select_related(self, request):
        base = super().get_list_select_related(request)
        extra = [r for ext in CUSTOMER_ADMIN_EXTENSIONS.values() for r in ext.select_related]
        if base is True or not extra:
            return base
        return tuple(dict.fromkeys([*(base or ()), *extra]))

    def get_inlines(self, request, obj):
        extra = [i for ext in CUSTOMER_ADMIN_EXTENSIONS.values() for i in ext.inlines]
        return [*extra, *super().get_inlines(request, obj)]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not actions and not self.has_change_permission(request):
            return actions  # no actions at all (popups, view-only users)
        for ext in CUSTOMER_ADMIN_EXTENSIONS.values():
            for func in ext.actions:
                action = self.get_action(func)
                if action is not None:
                    actions[action[1]] = action
        return actions


class PhoneSearchMixin:
    """Search by phone in whatever format the user types: 138 0013 8000, +86-138…, 1380013…

    A whole number is an exact match on the indexed phone; a fragment (the last four digits
    a customer tells at the till) matches anywhere in the phone. On the customer list a
    phone-like term also matches the customer number, and skips the text search of names."""

    phone_lookup = "phone"
    phone_terms_search_text = True
    number_lookup = ""

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not looks_like_phone(term):
            return super().get_search_results(request, queryset, search_term)
        business = business_for(request.user)
        region = business.phone_region if business else "CN"
        phone_q = phone_search_q(term, region, self.phone_lookup)
        if self.number_lookup:
            phone_q |= Q(**{self.number_lookup: term})
        if not self.phone_terms_search_text:
            return queryset.filter(phone_q), False
        qs, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return qs | queryset.filter(phone_q), may_have_duplicates


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
    # Narrow enough for a phone; the till's external id is edited on the purchase's own page.
    fields = ("occurred_at", "amount", "cost", "channel", "items")
    ordering = ("-occurred_at", "-id")
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 1, "cols": 16})},
        models.CharField: {"widget": forms.TextInput(attrs={"size": 8})},
        models.DecimalField: {"widget": forms.NumberInput(attrs={"style": "width:6em"})},
    }


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
class CustomerAdmin(
    CustomerAdminExtensionsMixin,
    ImportExportMixin,
    PhoneSearchMixin,
    BusinessScopedAdminMixin,
    admin.ModelAdmin,
):
    import_kind = ImportJob.Kind.CUSTOMERS
    phone_terms_search_text = False  # names hold no digits; numbers are matched exactly
    number_lookup = "customer_no"
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
        TagSearchFilter,
        "source",
        ("assigned_to", ScopedRelatedListFilter),
        DuplicateFilter,
        PhoneNeedsCheckingFilter,
    )
    search_fields = ("name", "customer_no", "wechat_id", "email")
    list_select_related = ("assigned_to",)
    list_per_page = 100
    show_full_result_count = False
    ordering = ("-id",)
    autocomplete_fields = ("tags",)
    # The consent time is a record set when consent is ticked, never typed: a form round trip
    # would drop its seconds and log a change nobody made.
    readonly_fields = ("totals", "timeline", "marketing_consent_at", "created_at", "updated_at")
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
    actions = (
        "add_tag",
        "set_status",
        "merge_two",
        "export_selected_csv",
        "export_selected_xlsx",
    )

    def export_table(self, business, queryset):
        return customer_table(business, queryset)

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
            pgettext("count", "Purchases"),
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
                        format_html('<a href="{}">{}</a>', e.url, e.label) if e.url else e.label,
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
            tag, count = customers_add_tag(
                business=business_for(request.user) or queryset.first().business,
                customers=queryset,
                name=name,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        # Only the tag's own business's customers get it (an operator may select several).
        self.message_user(
            request,
            ngettext(
                "Tag “%(tag)s” added to %(count)d customer.",
                "Tag “%(tag)s” added to %(count)d customers.",
                count,
            )
            % {"tag": tag, "count": count},
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
class PurchaseAdmin(
    ImportExportMixin, PhoneSearchMixin, BusinessScopedAdminMixin, admin.ModelAdmin
):
    import_kind = ImportJob.Kind.PURCHASES
    phone_lookup = "customer__phone"
    actions = ("export_selected_csv", "export_selected_xlsx")
    list_display = ("occurred_at", "customer", "amount", "cost", "channel", "external_id")
    list_select_related = ("customer",)
    list_filter = ("channel",)
    search_fields = ("customer__name", "customer__customer_no", "external_id", "items")
    autocomplete_fields = ("customer",)
    date_hierarchy = "occurred_at"
    list_per_page = 100
    show_full_result_count = False

    def export_table(self, business, queryset):
        return purchase_table(business, queryset)


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
        count = follow_ups_mark_done(follow_ups=queryset)
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
