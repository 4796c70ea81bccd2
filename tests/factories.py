from decimal import Decimal

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Business, Membership
from customers.models import Customer, FollowUp, Interaction, Purchase, Tag


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
