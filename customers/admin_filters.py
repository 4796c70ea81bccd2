"""Customer list filters that stay light on a large business: a tag filter that searches
instead of listing every tag, and "phone needs checking" for numbers stored before phones
were validated."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import business_for

from .models import Customer, Tag
from .selectors import customers_with_invalid_phone


class TagSearchFilter(admin.ListFilter):
    """By tag: a text box (part of a tag's name) and the first few tags as links. With
    15,000 tags the old filter listed them all on every page of the customer list."""

    title = _("tag")
    parameter_name = "tag"
    id_parameter = "tags__id__exact"  # links from before keep working
    template = "admin/customers/tag_search_filter.html"
    SHOWN = 15
    MAX_LENGTH = 40

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.value = self._pop(params, self.parameter_name)[: self.MAX_LENGTH]
        self.tag_id = self._pop(params, self.id_parameter)
        self.business = business_for(request.user)
        self.hidden: list[tuple[str, str]] = []

    @staticmethod
    def _pop(params, name: str) -> str:
        value = params.pop(name, "")
        if isinstance(value, list):
            value = value[-1] if value else ""
        return str(value).strip()

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name, self.id_parameter]

    def queryset(self, request, queryset):
        through = Customer.tags.through
        if self.value:
            links = through.objects.filter(
                customer_id=OuterRef("pk"), tag__name__icontains=self.value
            )
            queryset = queryset.filter(Exists(links))
        if self.tag_id:
            if not self.tag_id.isdigit():
                return queryset.none()
            queryset = queryset.filter(
                Exists(through.objects.filter(customer_id=OuterRef("pk"), tag_id=self.tag_id))
            )
        return queryset

    def choices(self, changelist):
        # The other filters and the search ride along as hidden fields of the text box.
        self.hidden = [
            (key, value)
            for key, values in changelist.params.items()
            if key not in (self.parameter_name, self.id_parameter, "p")
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "selected": not self.value and not self.tag_id,
            "query_string": changelist.get_query_string(
                remove=[self.parameter_name, self.id_parameter]
            ),
            "display": _("All"),
        }
        # The business's own tags only (None for the operator: no tags shown).
        tags = Tag.objects.for_business(self.business).order_by("name")
        if self.value:
            tags = tags.filter(name__icontains=self.value)
        for name in tags.values_list("name", flat=True)[: self.SHOWN]:
            yield {
                "selected": self.value == name,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: name}, [self.id_parameter]
                ),
                "display": name,
            }


class PhoneNeedsCheckingFilter(admin.SimpleListFilter):
    """Customers whose stored phone is not a valid number (saved before phones were
    validated). Nothing is changed or deleted: the owner corrects them."""

    title = _("phone")
    parameter_name = "phone_check"

    def lookups(self, request, model_admin):
        return (("needs_checking", _("Phone needs checking")),)

    def queryset(self, request, queryset):
        if self.value() == "needs_checking":
            return customers_with_invalid_phone(queryset)
        return queryset
