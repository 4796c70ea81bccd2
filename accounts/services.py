from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from .models import Business, BusinessAPIKey, Membership


@transaction.atomic
def business_create(
    *,
    slug: str,
    name: str,
    owner_username: str,
    owner_password: str | None = None,
    **settings: object,
) -> Business:
    """Create a business and its owner account (or attach an existing user as owner)."""
    business = Business(slug=slug, name=name, **settings)
    business.full_clean()
    business.save()
    owner, created = User.objects.get_or_create(username=owner_username)
    if Membership.objects.filter(user=owner).exclude(business=business).exists():
        raise ValueError(f"User {owner_username!r} already belongs to another business.")
    owner.is_staff = True
    if owner_password:
        owner.set_password(owner_password)
    elif created:
        owner.set_unusable_password()
    owner.save()
    Membership.objects.update_or_create(
        user=owner, defaults={"business": business, "role": Membership.Role.OWNER}
    )
    return business


@transaction.atomic
def member_add(
    *, business: Business, username: str, password: str, role: str = Membership.Role.STAFF
) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.is_staff = True
    user.set_password(password)
    user.save()
    Membership.objects.update_or_create(user=user, defaults={"business": business, "role": role})
    return user


def api_key_create(
    *,
    business: Business,
    name: str,
    read_only: bool = False,
    expiry_date: datetime | None = None,
    created_by: User | None = None,
) -> tuple[BusinessAPIKey, str]:
    """A new key for `business`; the plain key is returned once and only its hash is kept."""
    api_key, key = BusinessAPIKey.objects.create_key(
        business=business,
        name=name,
        read_only=read_only,
        expiry_date=expiry_date,
        created_by=created_by,
    )
    return api_key, key
