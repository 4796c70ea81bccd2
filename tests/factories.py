from decimal import Decimal

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Business, Membership
from customers.models import Customer, FollowUp, Interaction, Purchase, Tag
from segmentation.models import Action, CustomerScore, ScoringRun, Segment, Tier


class BusinessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Business
        django_get_or_create = ("slug",)

    name = factory.Faker("company", locale="zh_CN")
    slug = factory.Sequence(lambda n: f"biz{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.django.Password("pw-xiaowei-1")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    business = factory.SubFactory(BusinessFactory)
    role = Membership.Role.STAFF


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    business = factory.SubFactory(BusinessFactory)
    name = factory.Faker("name", locale="zh_CN")
    phone = factory.Sequence(lambda n: f"+86139{n:08d}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        tags = kwargs.pop("tags", None)
        customer = model_class(*args, **kwargs)
        customer.full_clean()  # as the admin and imports do: phones normalised, rules checked
        customer.save()
        if tags:
            customer.tags.set(tags)
        return customer


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    business = factory.SubFactory(BusinessFactory)
    name = factory.Sequence(lambda n: f"tag{n}")


class PurchaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purchase

    customer = factory.SubFactory(CustomerFactory)
    business = factory.SelfAttribute("customer.business")
    occurred_at = factory.LazyFunction(timezone.now)
    amount = Decimal("100.00")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    business = factory.SelfAttribute("customer.business")
    kind = Interaction.Kind.VISIT
    summary = "到店"


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    customer = factory.SubFactory(CustomerFactory)
    business = factory.SelfAttribute("customer.business")
    due_on = factory.LazyFunction(timezone.localdate)
    task = "回访"


def give_score(customer, **values) -> CustomerScore:
    """A stored score for `customer` (the nightly run's output, without running it)."""
    run = ScoringRun.objects.filter(business_id=customer.business_id).first()
    if run is None:
        run = ScoringRun.objects.create(
            business_id=customer.business_id,
            as_of=timezone.localdate(),
            trigger=ScoringRun.Trigger.COMMAND,
            status=ScoringRun.Status.SUCCEEDED,
            started_at=timezone.now(),
        )
    fields = {
        "as_of": timezone.localdate(),
        "recency_days": 63,
        "frequency": 6,
        "monetary": Decimal("120.00"),
        "total_spent": Decimal("720.00"),
        "tenure_days": 168,
        "margin_so_far": Decimal("300.00"),
        "cost_to_serve": Decimal("0.00"),
        "satisfaction": None,
        "r_score": 2,
        "f_score": 4,
        "m_score": 4,
        "rfm_segment": Segment.AT_RISK,
        "p_alive": 0.3,
        "churn_risk": 0.8,
        "expected_purchases_90d": 0.4,
        "expected_order_value": Decimal("120.00"),
        "predicted_clv": Decimal("900.00"),
        "net_value": Decimal("1200.00"),
        "value_tier": Tier.A,
        "loyalty_score": 40.0,
        "action": Action.WIN_BACK,
    }
    fields.update(values)
    # Stored by the scoring run: predicted value × churn risk.
    fields.setdefault(
        "value_at_stake",
        (fields["predicted_clv"] * Decimal(str(fields["churn_risk"]))).quantize(Decimal("0.01")),
    )
    return CustomerScore.objects.create(
        business_id=customer.business_id, customer=customer, run=run, **fields
    )
