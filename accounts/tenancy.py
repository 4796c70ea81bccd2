"""The one tenancy mechanism: every query of business-owned data goes through here.

- `BusinessOwned` (abstract model) + `BusinessQuerySet.for_business()` scope reads.
- `business_for(user)` says which business a user acts for.
- `BusinessScopedAdminMixin` / `BusinessScopedInlineMixin` scope the admin: querysets,
  foreign-key and many-to-many choices, autocomplete, search, list filters and saving.
- `ScopedRelatedListFilter` is the list filter for foreign keys to business-owned rows.
The API side (`accounts.api`) calls the same `business_for()` / `scope_queryset()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Business, Membership

if TYPE_CHECKING:
    from django.http import HttpRequest


class BusinessQuerySet(models.QuerySet):
    def for_business(self, business: Business | int | None) -> BusinessQuerySet:
        # No business means no rows: a forgotten scope fails closed, never open.
        if business is None:
            return self.none()
        return self.filter(business=business)


class BusinessOwned(models.Model):
    """Abstract base of every row a business owns."""

    business = models.ForeignKey(
        Business, verbose_name=_("business"), on_delete=models.CASCADE, related_name="+"
    )

    objects = BusinessQuerySet.as_manager()

    class Meta:
        abstract = True


def membership_for(user: Any) -> Membership | None:
    if user is None or not user.is_authenticated or not user.is_active or not user.pk:
        return None
    cached = getattr(user, "_xw_membership", False)
    if cached is not False:
        return cached
    membership = (
        Membership.objects.select_related("business")
        .filter(user_id=user.pk, business__is_active=True)
        .first()
    )
    user._xw_membership = membership
    return membership


def business_for(user: Any) -> Business | None:
    api_key = getattr(user, "api_key", None)
    if api_key is not None:  # an integrator's key acts for its business only
        return api_key.business if api_key.business.is_active else None
    membership = membership_for(user)
    return membership.business if membership else None


def is_owner(user: Any) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.is_owner)


def is_operator(user: Any) -> bool:
    """The platform operator: a superuser who belongs to no business at all.

    A superuser whose business was deactivated is still that business's member, so they
    see nothing (fail closed) rather than every business."""
    if not (user.is_active and user.is_superuser):
        return False
    if membership_for(user) is not None:
        return False
    cached = getattr(user, "_xw_any_membership", None)
    if cached is None:
        cached = Membership.objects.filter(user_id=user.pk).exists()
        user._xw_any_membership = cached
    return not cached


def business_members(business: Business | int | None, users: models.QuerySet | None = None):
    """The users who work for `business` (owner and staff), out of `users` (default: every
    user). No business means nobody: fail closed, like `for_business`."""
    if users is None:
        from django.contrib.auth import get_user_model

        users = get_user_model()._default_manager.all()
    if business is None:
        return users.none()
    return users.filter(membership__business=business)


def is_business_owned(model: type[models.Model]) -> bool:
    return issubclass(model, BusinessOwned)


def scope_queryset(qs: models.QuerySet, request: HttpRequest) -> models.QuerySet:
    """Scope any queryset of business-owned rows to the request's business."""
    if is_operator(request.user):
        return qs
    business = business_for(request.user)
    if business is None:
        return qs.none()
    return qs.filter(business=business)


def _scope_related(field: models.Field, kwargs: dict, request: HttpRequest) -> None:
    related = field.related_model
    if related is Business and not is_operator(request.user):
        kwargs["queryset"] = Business.objects.filter(
            pk=getattr(business_for(request.user), "pk", None)
        )
    elif related is not None and is_business_owned(related):
        base = kwargs.get("queryset", related._default_manager.all())
        kwargs["queryset"] = scope_queryset(base, request)
    elif (
        related is not None and related._meta.label == "auth.User" and not is_operator(request.user)
    ):
        kwargs["queryset"] = business_members(
            business_for(request.user), related._default_manager.all()
        )


class _ScopedFormfieldsMixin:
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        _scope_related(db_field, kwargs, request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        _scope_related(db_field, kwargs, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class _RolePermissionsMixin:
    """Members of a business may work in its admin; owners may delete, staff only if allowed."""

    staff_can_delete = False
    staff_can_change = True
    staff_can_add = True

    def _member_rights(self, request) -> tuple[bool, bool]:
        if is_operator(request.user):
            return True, True
        membership = membership_for(request.user)
        if membership is None or not request.user.is_staff:
            return False, False
        return True, membership.is_owner

    def has_module_permission(self, request):
        return self._member_rights(request)[0]

    def has_view_permission(self, request, obj=None):
        return self._member_rights(request)[0]

    def has_add_permission(self, request, *args):
        member, owner = self._member_rights(request)
        return member and (owner or self.staff_can_add)

    def has_change_permission(self, request, obj=None):
        member, owner = self._member_rights(request)
        return member and (owner or self.staff_can_change)

    def has_delete_permission(self, request, obj=None):
        member, owner = self._member_rights(request)
        return member and (owner or self.staff_can_delete)


class _BusinessValidationFormMixin:
    """Keep `business` in model validation although the form hides it, so per-business
    unique constraints (phone, customer number) give a form error, not a database error."""

    def _get_validation_exclusions(self):
        exclusions = super()._get_validation_exclusions()
        exclusions.discard("business")
        return exclusions


def _scoped_form(form_class, business: Business | None):
    class ScopedForm(_BusinessValidationFormMixin, form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if business is not None and not self.instance.business_id:
                self.instance.business = business

    ScopedForm.__name__ = form_class.__name__
    return ScopedForm


class BusinessScopedAdminMixin(_RolePermissionsMixin, _ScopedFormfieldsMixin):
    """Scopes a ModelAdmin of a BusinessOwned model to the signed-in user's business."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        business = None if is_operator(request.user) else business_for(request.user)
        return _scoped_form(form, business)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not is_operator(request.user):
            exclude.append("business")
        return exclude

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if is_operator(request.user):
            filters.insert(0, "business")
        return filters

    def save_model(self, request, obj, form, change):
        if not is_operator(request.user):
            obj.business = business_for(request.user)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        # Children of a business-owned parent belong to the parent's business.
        for inline_form in formset.forms:
            child = inline_form.instance
            if isinstance(child, BusinessOwned) and not child.business_id:
                child.business_id = form.instance.business_id
        super().save_formset(request, form, formset, change)


class BusinessScopedInlineMixin(_RolePermissionsMixin, _ScopedFormfieldsMixin):
    exclude = ("business",)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request)

    def get_formset(self, request, obj=None, **kwargs):
        business = getattr(obj, "business", None) or business_for(request.user)
        kwargs["form"] = _scoped_form(kwargs.get("form", self.form), business)
        return super().get_formset(request, obj, **kwargs)


class ScopedRelatedListFilter(admin.RelatedFieldListFilter):
    """A foreign-key/many-to-many list filter offering only the user's business's rows."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        qs = related._default_manager.all()
        if is_business_owned(related):
            qs = scope_queryset(qs, request)
        elif related._meta.label == "auth.User" and not is_operator(request.user):
            qs = business_members(business_for(request.user), qs)
        ordering = self.field_admin_ordering(field, request, model_admin) or ()
        return [(obj.pk, str(obj)) for obj in qs.order_by(*ordering)]
