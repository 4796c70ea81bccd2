"""The customer admin's extension point: higher apps add columns, filters and actions."""

import pytest
from django.contrib import admin
from django.urls import reverse

from customers.admin import (
    CustomerAdminExtension,
    register_customer_admin_extension,
    unregister_customer_admin_extension,
)
from customers.models import Customer
from tests.factories import CustomerFactory

CHANGELIST = reverse("admin:customers_customer_changelist")


@admin.display(description="City shout")
def city_shout(customer: Customer) -> str:
    return f"CITY:{customer.city.upper()}"


@admin.action(description="Mark as lost (test extension)")
def mark_lost(modeladmin, request, queryset):
    queryset.update(status=Customer.Status.LOST)


@pytest.fixture
def extension():
    register_customer_admin_extension(
        CustomerAdminExtension(
            key="test-ext",
            columns=(city_shout,),
            filters=("city",),
            select_related=("business",),
            actions=(mark_lost,),
            replaces=("customer_no",),
        )
    )
    yield
    unregister_customer_admin_extension("test-ext")


def test_extension_adds_column_after_status_and_hides_replaced(tea, salon, client_for, extension):
    CustomerFactory(business=tea.business, name="茶客", city="hangzhou")
    CustomerFactory(business=salon.business, name="沙龙客", city="shanghai")
    response = client_for(tea.owner).get(CHANGELIST)
    assert response.status_code == 200
    names = [c if isinstance(c, str) else c.__name__ for c in response.context["cl"].list_display]
    # After status (and after the columns of extensions registered before, e.g. segmentation).
    assert names.index("city_shout") > names.index("status")
    assert "customer_no" not in names
    html = response.content.decode()
    assert "CITY:HANGZHOU" in html
    assert "CITY:SHANGHAI" not in html  # still scoped to the business


def test_extension_filter_is_an_allowed_lookup(tea, client_for, extension):
    CustomerFactory(business=tea.business, name="杭州客", city="hangzhou")
    CustomerFactory(business=tea.business, name="宁波客", city="ningbo")
    response = client_for(tea.owner).get(CHANGELIST, {"city": "ningbo"})
    assert response.status_code == 200
    assert [c.name for c in response.context["cl"].result_list] == ["宁波客"]


def test_extension_action_runs_on_the_scoped_selection(tea, salon, client_for, extension):
    mine = CustomerFactory(business=tea.business)
    theirs = CustomerFactory(business=salon.business)
    response = client_for(tea.owner).post(
        CHANGELIST, {"action": "mark_lost", "_selected_action": [mine.pk, theirs.pk]}
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == Customer.Status.LOST
    assert theirs.status != Customer.Status.LOST


def test_without_extension_the_column_is_gone(tea, client_for):
    CustomerFactory(business=tea.business, city="hangzhou")
    response = client_for(tea.owner).get(CHANGELIST)
    assert "CITY:HANGZHOU" not in response.content.decode()
    assert response.context["cl"].list_display.count("customer_no") == 1


def test_registering_a_key_twice_replaces_it(extension):
    from customers.admin import CUSTOMER_ADMIN_EXTENSIONS

    register_customer_admin_extension(CustomerAdminExtension(key="test-ext", filters=("city",)))
    assert CUSTOMER_ADMIN_EXTENSIONS["test-ext"].columns == ()
