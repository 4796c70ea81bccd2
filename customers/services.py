import random
import time
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import QuerySet, sql
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Business
from accounts.tenancy import business_members

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


def _stored_sales(business: Business, external_ids) -> dict[str, Purchase]:
    """The business's recorded sales under these external ids."""
    if not external_ids:
        return {}
    # `external_id <> ''` repeats the partial unique index's condition, so both databases
    # answer from the index instead of scanning the business's purchases.
    return {
        p.external_id: p
        for p in Purchase.objects.filter(business=business, external_id__in=sorted(external_ids))
        .exclude(external_id="")
        .order_by()
        .only("pk", "external_id", *(f for f in INGEST_COMPARED if f != "customer"), "customer")
    }


# The columns the ingest writes (attribute names), in the order of its INSERT.
_INGEST_WRITTEN = (
    "business_id", "customer_id", "occurred_at", "amount", "cost", "channel", "items",
    "external_id", "created_at",
)  # fmt: skip


def _insert_new_sales(sales: list[dict]) -> dict[str, int]:
    """Write the sales (dicts of _INGEST_WRITTEN) whose external id is not recorded yet, in
    the given order, in one statement per batch: INSERT … ON CONFLICT (business, external_id)
    DO NOTHING RETURNING. A sale recorded before (or by a concurrent request, which this one
    waits for) is skipped, not an error. Returns {external_id: id} of the sales written."""
    if not sales:
        return {}
    connection = connections[router.db_for_write(Purchase)]
    meta = Purchase._meta
    fields = [meta.get_field(name) for name in _INGEST_WRITTEN]
    qn = connection.ops.quote_name
    # The arbiter is the partial unique index purchase_unique_external_id, named by its
    # columns and condition; no other constraint is ignored.
    conflict = (
        f"ON CONFLICT ({qn('business_id')}, {qn('external_id')}) "
        f"WHERE NOT ({qn('external_id')} = '') DO NOTHING "
        f"RETURNING {qn(meta.pk.column)}, {qn('external_id')}"
    )
    into = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
    written: dict[str, int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and all(s["occurred_at"].tzinfo for s in sales):
            # One array per column (as Django's bulk_create does on PostgreSQL), filled with
            # the validated values as they are: the driver adapts ints, aware date-times,
            # decimals and text itself, without Django's preparation of every value (which
            # cost more than the statement). A naive time takes Django's way below.
            arrays = ", ".join(f"%s::{f.db_type(connection).split('(')[0]}[]" for f in fields)
            columns = [[sale[name] for sale in sales] for name in _INGEST_WRITTEN]
            # Only names and types from the model go into the text; the values are parameters.
            statement = f"{into} SELECT * FROM UNNEST({arrays}) {conflict}"  # noqa: S608
            cursor.execute(statement, columns)
            written.update((external_id, pk) for pk, external_id in cursor.fetchall())
            return written
        purchases = [Purchase(**sale) for sale in sales]
        size = connection.ops.bulk_batch_size(fields, purchases) or len(purchases)
        for start in range(0, len(purchases), size):
            # Django's own INSERT … VALUES rows, with the clause.
            query = sql.InsertQuery(Purchase)
            query.insert_values(fields, purchases[start : start + size])
            ((statement, params),) = query.get_compiler(connection=connection).as_sql()
            cursor.execute(f"{statement} {conflict}", params)
            written.update((external_id, pk) for pk, external_id in cursor.fetchall())
    return written


def _compare(item: dict, customer: int | None, stored: Purchase | dict) -> dict | None:
    """None when `item` is the same sale as `stored`, else the stored values to show."""
    sent, kept = _sale_values({**item, "customer_id": customer}), _sale_values(stored)
    if customer is None:  # its customer is unknown now (merged, renumbered): not compared
        sent["customer"] = kept["customer"]
    for optional in ("cost", "channel", "items"):
        if optional not in item:  # not sent again: not compared
            sent[optional] = kept[optional]
    return None if sent == kept else kept


@transaction.atomic
def _purchases_ingest(*, business: Business, items: list[dict], create_customers: bool):
    # Phones arrive normalised (the API serializer does it with the business's region).
    for item in items:
        item["phone"] = item.get("phone") or ""
        item["customer_no"] = (item.get("customer_no") or "").strip()
    # Customers as ids only: no model instance per row on the hot path. Unordered, and
    # `<> ''` repeats the partial unique indexes' conditions so that they answer.
    customers = Customer.objects.for_business(business).order_by()
    nos = {i["customer_no"] for i in items if i["customer_no"]}
    phones = {i["phone"] for i in items if i["phone"]}
    pks = {i["customer"] for i in items if i.get("customer")}
    by_no = (
        dict(
            customers.filter(customer_no__in=nos)
            .exclude(customer_no="")
            .values_list("customer_no", "pk")
        )
        if nos
        else {}
    )
    by_phone = (
        dict(customers.filter(phone__in=phones).exclude(phone="").values_list("phone", "pk"))
        if phones
        else {}
    )
    by_pk = (
        {pk: pk for pk in customers.filter(pk__in=pks).values_list("pk", flat=True)} if pks else {}
    )

    def customer_of(item: dict) -> int | None:
        if item.get("customer"):
            return by_pk.get(item["customer"])
        return by_no.get(item["customer_no"]) or by_phone.get(item["phone"])

    # Recorded sales are read before the write only where a decision needs them: an item
    # whose customer is unknown may still be a resend of a sale recorded earlier.
    existing = _stored_sales(business, {i["external_id"] for i in items if not customer_of(i)})

    errors: dict[str, dict] = {}
    found: list[tuple[int, dict, int | None]] = []
    missing: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(items):
        customer = customer_of(item)
        if item.get("customer") and customer is None:
            errors[str(index)] = {"customer": [_("No customer with this id.")]}
            continue
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

    # The first item of each new external id is the sale to write; a later one with the same
    # id is compared with it (or with what turns out to be recorded already).
    results: dict[int, dict] = {}
    new: dict[str, dict] = {}
    now = timezone.now()
    sent: list[tuple[int, dict, int | None]] = []
    for index, item, customer in found:
        ext = item["external_id"]
        if customer is None and ext not in existing:
            customer = created_customers[(item["customer_no"], item["phone"])]
        results[index] = {"index": index, "external_id": ext, "status": "created", "id": None}
        sent.append((index, item, customer))
        if ext not in existing and ext not in new:
            new[ext] = {
                "business_id": business.pk, "customer_id": customer,
                "occurred_at": item["occurred_at"], "amount": item["amount"],
                "cost": item.get("cost"), "channel": item.get("channel") or "",
                "items": item.get("items") or "", "external_id": ext, "created_at": now,
            }  # fmt: skip

    # Written in external-id order: one lock order for every concurrent batch. What was not
    # written was recorded before (a resend, or a concurrent request): compared with that.
    written = _insert_new_sales([new[ext] for ext in sorted(new)])
    skipped = new.keys() - written.keys()
    existing.update(_stored_sales(business, skipped))
    if skipped - existing.keys():  # deleted again since: run the batch again
        raise IntegrityError("A recorded sale disappeared during the ingest.")
    first_of: set[str] = set()
    for index, item, customer in sent:
        ext, row = item["external_id"], results[index]
        if ext in written and ext not in first_of:
            first_of.add(ext)
            row["id"] = written[ext]
            continue
        stored = existing.get(ext) or new[ext]
        kept = _compare(item, customer, stored)
        row.update(status="exists" if kept is None else "conflict")
        row["id"] = written.get(ext) or stored.pk  # the one written, if this batch wrote it
        if kept is not None:
            row["stored"] = kept
    sales = [(written[ext], sale["customer_id"], sale["occurred_at"]) for ext, sale in new.items()
             if ext in written]  # fmt: skip
    if sales:
        sales.sort()
        transaction.on_commit(
            lambda: purchases_recorded.send(
                sender=Purchase,
                business=business,
                purchase_ids=[sale[0] for sale in sales],
                sales=sales,
            )
        )
    return [results[i] for i in sorted(results)]


# The shop app (phone) -------------------------------------------------------------------

APP_SALE_PREFIX = "app-"


def _works_for(user: User, business: Business) -> bool:
    return business_members(business).filter(pk=user.pk).exists()


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
