from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Business

from .models import Customer, CustomerMerge, FollowUp, Interaction, Purchase, Tag
from .signals import customer_merged

_FILLABLE = ("phone", "customer_no", "wechat_id", "email", "gender", "birthday", "city", "notes")


@transaction.atomic
def customer_merge(*, source: Customer, target: Customer, actor: User | None) -> Customer:
    """Merge `source` into `target`: every purchase, interaction, follow-up and tag moves,
    blank fields of `target` are filled from `source`, and the merge is recorded."""
    if source.pk == target.pk:
        raise ValidationError(_("A customer cannot be merged with itself."))
    if source.business_id != target.business_id:
        raise ValidationError(_("Only customers of the same business can be merged."))
    source = Customer.objects.select_for_update().get(pk=source.pk)
    target = Customer.objects.select_for_update().get(pk=target.pk)

    moved = {
        "purchases": Purchase.objects.filter(customer=source).update(customer=target),
        "interactions": Interaction.objects.filter(customer=source).update(customer=target),
        "follow_ups": FollowUp.objects.filter(customer=source).update(customer=target),
        "merges": CustomerMerge.objects.filter(kept=source).update(kept=target),
    }
    source_tags = list(source.tags.all())
    target.tags.add(*source_tags)
    moved["tags"] = len(source_tags)
    customer_merged.send(sender=Customer, source=source, target=target, actor=actor)

    snapshot = {
        field: str(getattr(source, field) or "") for field in ("name", *_FILLABLE, "status")
    }
    fill = {field: getattr(source, field) for field in _FILLABLE if not getattr(target, field)}
    if source.notes and target.notes and source.notes != target.notes:
        fill["notes"] = f"{target.notes}\n{source.notes}"
    if source.marketing_consent and not target.marketing_consent:
        fill.update(marketing_consent=True, marketing_consent_at=source.marketing_consent_at)
    if target.assigned_to_id is None and source.assigned_to_id:
        fill["assigned_to_id"] = source.assigned_to_id
    if source.created_at < target.created_at:
        fill["created_at"] = source.created_at  # the relationship began with the older record

    source_id = source.pk
    source.delete()  # frees its phone and customer number for the target
    for field, value in fill.items():
        setattr(target, field, value)
    target.save()
    CustomerMerge.objects.create(
        business_id=target.business_id,
        kept=target,
        merged_customer_id=source_id,
        merged_snapshot=snapshot,
        moved=moved,
        merged_by=actor,
    )
    return target


@transaction.atomic
def customers_add_tag(*, business: Business, customers: Iterable[Customer], name: str) -> Tag:
    name = name.strip()
    if not name:
        raise ValidationError(_("Type a tag name."))
    tag, _created = Tag.objects.get_or_create(business=business, name=name[:40])
    through = Customer.tags.through
    ids = [c.pk for c in customers if c.business_id == business.pk]
    existing = set(
        through.objects.filter(tag=tag, customer_id__in=ids).values_list("customer_id", flat=True)
    )
    through.objects.bulk_create([through(customer_id=i, tag=tag) for i in ids if i not in existing])
    return tag


def customers_set_status(*, customers, status: str) -> int:
    if status not in Customer.Status.values:
        raise ValidationError(_("Unknown status."))
    return customers.update(status=status)
