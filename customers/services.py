from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Business

from .models import Customer, CustomerMerge, FollowUp, Interaction, Purchase, Tag
from .signals import customer_merged, purchases_recorded

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


def _tags_for(business: Business, names: Iterable[str]) -> list[Tag]:
    wanted = {name.strip()[:40] for name in names if name and name.strip()}
    existing = {t.name: t for t in Tag.objects.for_business(business).filter(name__in=wanted)}
    for name in wanted - existing.keys():
        existing[name] = Tag.objects.create(business=business, name=name)
    return [existing[name] for name in sorted(wanted)]


@transaction.atomic
def customer_save(
    *,
    business: Business,
    data: dict,
    tags: list[str] | None = None,
    instance: Customer | None = None,
) -> Customer:
    """Create or update a customer through the model's rules (phone normalised, unique
    phone and customer number per business); `tags` replaces the tags when given."""
    customer = instance or Customer(business=business)
    for field, value in data.items():
        setattr(customer, field, value)
    customer.full_clean()
    customer.save()
    if tags is not None:
        customer.tags.set(_tags_for(business, tags))
    return customer


class IngestRejected(Exception):
    """Some items cannot be recorded; `errors` maps each item's index to field messages."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]):
        super().__init__(errors)
        self.errors = errors


def purchases_ingest(
    *, business: Business, items: list[dict], create_customers: bool = False
) -> list[dict]:
    """Record purchases pushed by a till or shop system, keyed on `external_id`.

    `items` are validated dicts (customer_no and/or phone, or a `customer` of the business;
    occurred_at, amount, external_id, optional cost, channel, items, name). All or nothing: an
    item whose customer cannot be found (and may not be created) raises ValidationError naming
    its index. Sending the same items again creates nothing and reports them as existing."""
    for attempt in range(2):
        try:
            return _purchases_ingest(
                business=business, items=items, create_customers=create_customers
            )
        except IntegrityError:
            if attempt:  # a concurrent request with the same ids won the race twice
                raise
    return []  # pragma: no cover


@transaction.atomic
def _purchases_ingest(*, business: Business, items: list[dict], create_customers: bool):
    # Phones arrive normalised (the API serializer does it with the business's region).
    for item in items:
        item["phone"] = item.get("phone") or ""
        item["customer_no"] = (item.get("customer_no") or "").strip()
    customers = Customer.objects.for_business(business)
    nos = {i["customer_no"] for i in items if i["customer_no"]}
    phones = {i["phone"] for i in items if i["phone"]}
    by_no = {c.customer_no: c for c in customers.filter(customer_no__in=nos)} if nos else {}
    by_phone = {c.phone: c for c in customers.filter(phone__in=phones)} if phones else {}
    ids = [i["external_id"] for i in items]
    existing = dict(
        Purchase.objects.for_business(business)
        .filter(external_id__in=ids)
        .values_list("external_id", "pk")
    )
    results: list[dict] = []
    errors: dict[str, dict] = {}
    to_create: list[tuple[int, Purchase]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        ext = item["external_id"]
        if ext in existing or ext in seen:
            results.append({"index": index, "external_id": ext, "status": "exists",
                            "id": existing.get(ext)})  # fmt: skip
            continue
        seen.add(ext)
        # A caller that already holds the customer (membership checkout) passes it.
        customer = (
            item.get("customer") or by_no.get(item["customer_no"]) or by_phone.get(item["phone"])
        )
        if customer is not None and customer.business_id != business.pk:
            customer = None
        if customer is None:
            if not create_customers:
                errors[str(index)] = {
                    "customer_no" if item["customer_no"] else "phone": [
                        _("No customer with this customer number or phone; pass "
                          "create_customers=true to create one.")
                    ]
                }  # fmt: skip
                continue
            customer = Customer(
                business=business,
                name=item.get("name") or item["customer_no"] or item["phone"],
                customer_no=item["customer_no"],
                phone=item["phone"],
            )
            customer.full_clean()
            customer.save()
            if customer.customer_no:
                by_no[customer.customer_no] = customer
            if customer.phone:
                by_phone[customer.phone] = customer
        purchase = Purchase(
            business=business,
            customer=customer,
            occurred_at=item["occurred_at"],
            amount=item["amount"],
            cost=item.get("cost"),
            channel=item.get("channel") or "",
            items=item.get("items") or "",
            external_id=ext,
        )
        to_create.append((index, purchase))
        results.append({"index": index, "external_id": ext, "status": "created", "id": None})
    if errors:
        raise IngestRejected(errors)
    created = Purchase.objects.bulk_create([p for _i, p in to_create])
    by_index = {index: purchase for (index, _p), purchase in zip(to_create, created, strict=True)}
    for row in results:
        if row["status"] == "created":
            row["id"] = by_index[row["index"]].pk
    new_ids = [p.pk for p in created if p.pk is not None]
    transaction.on_commit(
        lambda: purchases_recorded.send(sender=Purchase, business=business, purchase_ids=new_ids)
    )
    return results
