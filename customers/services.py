import random
import time
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Business

from .models import Customer, CustomerMerge, FollowUp, Interaction, Purchase, Tag
from .signals import customer_merged, purchases_recorded

CENT = Decimal("0.01")
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
def follow_ups_mark_done(*, follow_ups: QuerySet[FollowUp], now=None) -> int:
    """Mark the open follow-ups among `follow_ups` done (now); done ones keep their time.
    Returns how many were marked."""
    return follow_ups.filter(done_at__isnull=True).update(done_at=now or timezone.now())


@transaction.atomic
def customers_add_tag(
    *, business: Business, customers: Iterable[Customer], name: str
) -> tuple[Tag, int]:
    """Tag `business`'s customers among `customers` (others are left alone): (tag, how many
    of them carry it now)."""
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
    return tag, len(ids)


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


@transaction.atomic
def tag_save(*, business: Business, name: str | None = None, instance: Tag | None = None) -> Tag:
    """Create a tag, or rename `instance` (a missing name keeps the current one)."""
    tag = instance or Tag(business=business)
    if name is not None:
        tag.name = name.strip()
    tag.full_clean()
    tag.save()
    return tag


@transaction.atomic
def customer_child_save(
    *, business: Business, instance: Interaction | Purchase | FollowUp, data: dict
) -> Interaction | Purchase | FollowUp:
    """Create or change a row of a customer's history (interaction, purchase, follow-up)
    through the model's rules: same business as its customer, bounds, constraints."""
    if instance.pk is None:
        instance.business = business
    for field, value in data.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    return instance


class IngestRejected(Exception):
    """Some items cannot be recorded; `errors` maps each item's index to field messages."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]):
        super().__init__(errors)
        self.errors = errors


# What a resend must repeat to be the same sale (anything else is a conflict).
INGEST_COMPARED = ("customer", "occurred_at", "amount", "cost", "channel", "items")
INGEST_ATTEMPTS = 5


def _retryable(exc: Exception) -> bool:
    """A unique-key race (another request wrote the same external id or customer first) or a
    PostgreSQL deadlock / serialization failure: running the whole batch again resolves it."""
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.__cause__, "sqlstate", None) in {"40P01", "40001"}


def purchases_ingest(
    *, business: Business, items: list[dict], create_customers: bool = False
) -> list[dict]:
    """Record purchases pushed by a till or shop system, keyed on `external_id`.

    `items` are validated dicts (customer id, customer_no and/or phone, occurred_at, amount,
    external_id, optional cost, channel, items, name). All or nothing: an item whose customer
    cannot be found (and may not be created) raises IngestRejected naming its index.

    Each result is `created`, `exists` (the same sale was recorded before, or earlier in this
    batch: nothing is written) or `conflict` (the external id is taken by a different sale:
    nothing is written, `stored` shows the recorded values). Per-batch work runs once per
    batch; rows are written in external-id order, so concurrent batches take their locks in
    one order, and a race that still happens is retried here, never passed on."""
    for attempt in range(INGEST_ATTEMPTS):
        try:
            return _purchases_ingest(
                business=business, items=items, create_customers=create_customers
            )
        except (IntegrityError, OperationalError) as exc:
            if attempt == INGEST_ATTEMPTS - 1 or not _retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    return []  # pragma: no cover


def _sale_values(purchase: Purchase | dict) -> dict:
    """The compared fields of a stored or a new sale, as the API shows them."""
    get = purchase.get if isinstance(purchase, dict) else lambda f: getattr(purchase, f)
    cost = get("cost")
    return {
        "customer": get("customer_id"),
        "occurred_at": get("occurred_at"),
        "amount": Decimal(get("amount")).quantize(CENT),
        "cost": None if cost is None else Decimal(cost).quantize(CENT),
        "channel": get("channel") or "",
        "items": get("items") or "",
    }


@transaction.atomic
def _purchases_ingest(*, business: Business, items: list[dict], create_customers: bool):
    # Phones arrive normalised (the API serializer does it with the business's region).
    for item in items:
        item["phone"] = item.get("phone") or ""
        item["customer_no"] = (item.get("customer_no") or "").strip()
    # Customers as ids only: no model instance per row on the hot path.
    customers = Customer.objects.for_business(business)
    nos = {i["customer_no"] for i in items if i["customer_no"]}
    phones = {i["phone"] for i in items if i["phone"]}
    pks = {i["customer"] for i in items if i.get("customer")}
    by_no = (
        dict(customers.filter(customer_no__in=nos).values_list("customer_no", "pk")) if nos else {}
    )
    by_phone = dict(customers.filter(phone__in=phones).values_list("phone", "pk")) if phones else {}
    by_pk = (
        {pk: pk for pk in customers.filter(pk__in=pks).values_list("pk", flat=True)} if pks else {}
    )
    ids = sorted({i["external_id"] for i in items})
    # `external_id <> ''` repeats the partial unique index's condition, so both databases
    # answer from the index instead of scanning the business's purchases.
    existing = {
        p.external_id: p
        for p in Purchase.objects.filter(business=business, external_id__in=ids)
        .exclude(external_id="")
        .only("pk", "external_id", *(f for f in INGEST_COMPARED if f != "customer"), "customer")
    }

    errors: dict[str, dict] = {}
    found: list[tuple[int, dict, int | None]] = []
    missing: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(items):
        if item.get("customer"):
            customer = by_pk.get(item["customer"])
            if customer is None:
                errors[str(index)] = {"customer": [_("No customer with this id.")]}
                continue
        else:
            customer = by_no.get(item["customer_no"]) or by_phone.get(item["phone"])
        if customer is None and item["external_id"] not in existing:
            if not create_customers:
                errors[str(index)] = {
                    "customer_no" if item["customer_no"] else "phone": [
                        _("No customer with this customer number or phone; pass "
                          "create_customers=true to create one.")
                    ]
                }  # fmt: skip
                continue
            missing.setdefault((item["customer_no"], item["phone"]), []).append(index)
        found.append((index, item, customer))
    if errors:
        raise IngestRejected(errors)

    # New customers, in one order (customer number, phone) so that concurrent batches
    # creating the same people wait for each other instead of deadlocking.
    created_customers: dict[tuple[str, str], int] = {}
    for no, phone in sorted(missing):
        customer = by_no.get(no) if no else None
        customer = customer or (by_phone.get(phone) if phone else None)
        if customer is None:
            first = items[missing[(no, phone)][0]]
            customer = Customer(
                business=business, name=first.get("name") or no or phone, customer_no=no,
                phone=phone,
            )  # fmt: skip
            try:
                customer.full_clean()
            except ValidationError as exc:
                index = str(missing[(no, phone)][0])
                raise IngestRejected({index: dict(exc.message_dict)}) from exc
            customer.save()
            customer = customer.pk
            if no:
                by_no[no] = customer
            if phone:
                by_phone[phone] = customer
        created_customers[(no, phone)] = customer

    results: dict[int, dict] = {}
    new: dict[str, tuple[int, Purchase]] = {}
    for index, item, customer in found:
        ext = item["external_id"]
        if customer is None and ext not in existing:
            customer = created_customers[(item["customer_no"], item["phone"])]
        row = {"index": index, "external_id": ext, "status": "created", "id": None}
        if ext in existing or ext in new:
            stored = existing.get(ext) or new[ext][1]
            values = {**item, "customer_id": customer}
            sent, kept = _sale_values(values), _sale_values(stored)
            if customer is None:  # its customer is unknown now (merged, renumbered): not compared
                sent["customer"] = kept["customer"]
            for optional in ("cost", "channel", "items"):
                if optional not in item:  # not sent again: not compared
                    sent[optional] = kept[optional]
            same = sent == kept
            row.update(status="exists" if same else "conflict", id=stored.pk)
            if not same:
                row["stored"] = kept
            if ext in new:
                row["_pending"] = new[ext][0]
        else:
            purchase = Purchase(
                business=business, customer_id=customer, occurred_at=item["occurred_at"],
                amount=item["amount"], cost=item.get("cost"), channel=item.get("channel") or "",
                items=item.get("items") or "", external_id=ext,
            )  # fmt: skip
            new[ext] = (index, purchase)
        results[index] = row

    # Written in external-id order: one lock order for every concurrent batch.
    ordered = [new[ext] for ext in sorted(new)]
    created = Purchase.objects.bulk_create([p for _i, p in ordered])
    for (index, _p), purchase in zip(ordered, created, strict=True):
        results[index]["id"] = purchase.pk
    for row in results.values():
        if "_pending" in row:  # the same sale twice in this batch: point at the one written
            row["id"] = results[row.pop("_pending")]["id"]
    new_ids = [p.pk for p in created if p.pk is not None]
    if new_ids:
        transaction.on_commit(
            lambda: purchases_recorded.send(
                sender=Purchase, business=business, purchase_ids=new_ids
            )
        )
    return [results[i] for i in sorted(results)]


# The shop app (phone) -------------------------------------------------------------------

APP_SALE_PREFIX = "app-"


def _works_for(user: User, business: Business) -> bool:
    from accounts.models import Membership

    return Membership.objects.filter(user=user, business=business).exists()


@transaction.atomic
def _sale_create(**fields) -> Purchase:
    purchase = Purchase(**fields)
    purchase.full_clean()
    purchase.save()
    return purchase


def sale_record(
    *,
    business: Business,
    customer: Customer,
    amount,
    key: str,
    items: str = "",
    served_by: User | None = None,
    occurred_at=None,
) -> tuple[Purchase, bool]:
    """Record one sale typed at the counter: (purchase, created by this call).

    `key` is the idempotency key the form carried (a UUID made when the form was shown): it
    is stored as the purchase's external id "app-<key>", so a double tap or a resent post
    finds the first purchase instead of adding a second one."""
    if customer.business_id != business.pk:
        raise ValidationError(_("This customer belongs to another business."))
    if served_by is not None and not _works_for(served_by, business):
        raise ValidationError(_("This person does not work for this business."))
    external_id = f"{APP_SALE_PREFIX}{key}"[:64]
    existing = Purchase.objects.for_business(business).filter(external_id=external_id).first()
    if existing is not None:
        return existing, False
    fields = {
        "business": business,
        "customer": customer,
        "amount": amount,
        "items": (items or "").strip(),
        "served_by": served_by,
        "external_id": external_id,
        "channel": "app",
    }
    if occurred_at is not None:
        fields["occurred_at"] = occurred_at
    try:
        return _sale_create(**fields), True
    except (IntegrityError, ValidationError) as exc:
        # The same key posted twice at once: the other request stored it first.
        existing = Purchase.objects.for_business(business).filter(external_id=external_id).first()
        if existing is None:
            raise
        if isinstance(exc, ValidationError) and set(exc.message_dict) != {"__all__"}:
            raise
        return existing, False


def interaction_record(
    *,
    business: Business,
    customer: Customer,
    kind: str,
    summary: str = "",
    outcome: str = "",
    cost_minutes: int | None = None,
    cost_amount=None,
    staff: User | None = None,
) -> Interaction:
    """A note, call, visit or other contact with a customer, with its optional cost to serve."""
    if customer.business_id != business.pk:
        raise ValidationError(_("This customer belongs to another business."))
    interaction = Interaction(
        business=business,
        customer=customer,
        kind=kind,
        summary=(summary or "").strip(),
        outcome=(outcome or "").strip(),
        cost_minutes=cost_minutes,
        cost_amount=cost_amount,
        staff=staff,
    )
    interaction.full_clean()
    interaction.save()
    return interaction


def follow_up_create(
    *, business: Business, customer: Customer, due_on, task: str, assigned_to: User | None = None
) -> FollowUp:
    if customer.business_id != business.pk:
        raise ValidationError(_("This customer belongs to another business."))
    follow_up = FollowUp(
        business=business,
        customer=customer,
        due_on=due_on,
        task=(task or "").strip(),
        assigned_to=assigned_to,
    )
    follow_up.full_clean()
    follow_up.save()
    return follow_up


def follow_up_complete(*, follow_up: FollowUp, now=None) -> FollowUp:
    """Mark one follow-up done (again: nothing changes), through `follow_ups_mark_done`."""
    if follow_up.done_at is None:
        follow_up.done_at = now or timezone.now()
        just_this = FollowUp.objects.filter(pk=follow_up.pk)
        follow_ups_mark_done(follow_ups=just_this, now=follow_up.done_at)
    return follow_up


def follow_up_snooze(*, follow_up: FollowUp, until) -> FollowUp:
    """Move an open follow-up to a later day."""
    if follow_up.done_at is not None:
        raise ValidationError(_("This follow-up is already done."))
    follow_up.due_on = until
    follow_up.save(update_fields=["due_on"])
    return follow_up
