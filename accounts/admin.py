from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from .models import Business, BusinessAPIKey, Membership, TeamMember, time_zone_choices
from .services import api_key_create
from .tenancy import business_for, business_members, is_operator, is_owner


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    """Operators manage every business; an owner sees and edits only their own settings."""

    list_display = ("name", "slug", "currency", "time_zone", "default_margin_pct", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline,)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if is_operator(request.user):
            return qs
        return qs.filter(pk=getattr(business_for(request.user), "pk", None))

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":  # a select of the zoneinfo names, not free text
            return forms.TypedChoiceField(
                label=db_field.verbose_name,
                choices=time_zone_choices(),
                initial=db_field.default,
                help_text=_("The shop's local time: days, reports and scores follow it."),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return () if is_operator(request.user) else ("slug", "is_active")

    def get_inlines(self, request, obj):
        return self.inlines if is_operator(request.user) else ()

    def get_prepopulated_fields(self, request, obj=None):
        # The slug is read-only for owners: prepopulating it would break their form.
        return self.prepopulated_fields if is_operator(request.user) else {}

    def has_module_permission(self, request):
        return is_operator(request.user) or is_owner(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "business", "role", "language")
    list_filter = ("role", "business")
    search_fields = ("user__username", "business__name")
    autocomplete_fields = ("user", "business")
    list_select_related = ("user", "business")

    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user)


class TeamMemberCreationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = TeamMember
        fields = ("username", "first_name", "last_name", "email")


class TeamMemberChangeForm(forms.ModelForm):
    class Meta:
        model = TeamMember
        fields = ("first_name", "last_name", "email", "is_active")
        help_texts = {"is_active": _("Untick to stop this person signing in; their history stays.")}


@admin.register(TeamMember)
class TeamMemberAdmin(UserAdmin):
    """An owner's own staff: add, deactivate, reset passwords — within their business only."""

    form = TeamMemberChangeForm
    add_form = TeamMemberCreationForm
    list_display = ("username", "first_name", "last_name", "email", "is_active", "last_login")
    list_filter = ("is_active",)
    search_fields = ("username", "first_name", "last_name", "email")
    ordering = ("username",)
    fieldsets = ((None, {"fields": ("first_name", "last_name", "email", "is_active")}),)
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    filter_horizontal = ()

    def get_queryset(self, request):
        qs = super().get_queryset(request).filter(is_superuser=False)
        if is_operator(request.user):
            return qs
        return business_members(business_for(request.user), qs).filter(
            membership__role=Membership.Role.STAFF
        )

    def _allowed(self, request) -> bool:
        return is_owner(request.user) and request.user.is_staff

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: a deleted user would orphan their customers' history.
        return False

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        if not change:
            obj.is_staff = True  # staff work in the back office
        super().save_model(request, obj, form, change)
        if not change:
            Membership.objects.create(
                user=obj, business=business_for(request.user), role=Membership.Role.STAFF
            )


class BusinessAPIKeyForm(forms.ModelForm):
    # The library's labels and help texts are English only: give ours, translated.
    class Meta:
        model = BusinessAPIKey
        fields = ("name", "read_only", "revoked", "expiry_date")
        labels = {
            "name": _("Name"),
            "read_only": _("Read only"),
            "revoked": _("Revoked"),
            "expiry_date": _("Expires"),
        }
        help_texts = {
            "name": _("A name for the key, for example the till it is used on."),
            "revoked": _("A revoked key can no longer be used. This cannot be undone."),
            "expiry_date": _("Once the key expires, clients cannot use it any more."),
        }


@admin.register(BusinessAPIKey)
class BusinessAPIKeyAdmin(admin.ModelAdmin):
    """Owners create and revoke their business's API keys; the key is shown once."""

    form = BusinessAPIKeyForm

    list_display = ("name", "prefix", "read_only", "created", "last_used_at", "revoked")
    list_filter = ("revoked", "read_only")
    fields = ("name", "read_only", "revoked", "expiry_date")

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("business")
        if is_operator(request.user):
            return qs
        return qs.filter(business=business_for(request.user))

    def get_readonly_fields(self, request, obj=None):
        return ("read_only",) if obj else ()

    def _allowed(self, request) -> bool:
        return is_operator(request.user) or (is_owner(request.user) and request.user.is_staff)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return is_owner(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the record of the key stays

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, key = api_key_create(
            business=business_for(request.user),
            name=obj.name,
            read_only=obj.read_only,
            expiry_date=obj.expiry_date,
            created_by=request.user,
        )
        obj.pk = api_key.pk
        self.message_user(
            request,
            _("Your new API key (copy it now, it is not shown again): %(key)s") % {"key": key},
            messages.WARNING,
        )


# The library's own key model is not used (keys belong to a business here).
admin.site.unregister(APIKey)
