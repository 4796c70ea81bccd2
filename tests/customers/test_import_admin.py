"""The admin flow: upload → preview → confirm → result, owners only, scoped, and large files
through the background task."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.importing.jobs import import_job_create, import_job_process
from customers.models import Customer, ImportJob, Purchase
from customers.tasks import import_job_run
from tests.customers.conftest import csv_bytes, xlsx_bytes
from tests.factories import CustomerFactory

pytestmark = pytest.mark.usefixtures("media_in_tmp")

ROWS = [
    ["姓名", "手机", "会员号", "积分"],
    ["张三", "138 0013 8000", "001", "10"],
    ["李四", "13900139000", "002", "20"],
]


def upload(name, data):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_owner_uploads_previews_and_confirms(tea, client_for):
    existing = CustomerFactory(business=tea.business, name="李四旧名", phone="13900139000")
    client = client_for(tea.owner)
    changelist = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    import_url = reverse("admin:customers_customer_import")
    assert import_url in changelist

    assert client.get(import_url).status_code == 200
    response = client.post(
        import_url, {"file": upload("客户.csv", csv_bytes(ROWS, encoding="gbk"))}
    )
    job = ImportJob.objects.get()
    progress = reverse("admin:customers_importjob_progress", args=[job.pk])
    assert response.status_code == 302
    assert response["Location"] == progress
    assert (job.business, job.created_by, job.status) == (tea.business, tea.owner, "ready")
    assert Customer.objects.count() == 1  # nothing written by the preview

    page = client.get(progress).content.decode()
    assert "张三" in page
    assert "积分" in page
    assert 'http-equiv="refresh"' not in page
    assert job.preview["counts"]["new"] == 1
    assert job.preview["counts"]["updated"] == 1

    response = client.post(reverse("admin:customers_importjob_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "done"
    assert job.result["written"]
    assert not job.file  # the uploaded customer data is not kept
    existing.refresh_from_db()
    assert existing.name == "李四"
    assert Customer.objects.get(customer_no="001").business == tea.business
    assert "Imported" in client.get(progress).content.decode()

    # Confirming again (a double click, a retried task) writes nothing more.
    client.post(reverse("admin:customers_importjob_confirm", args=[job.pk]))
    import_job_run(job.pk)
    assert Customer.objects.count() == 2


def test_file_with_errors_offers_valid_rows_only(tea, client_for):
    rows = [*ROWS, ["王五", "not a phone", "003", ""]]
    client = client_for(tea.owner)
    client.post(
        reverse("admin:customers_customer_import"), {"file": upload("c.xlsx", xlsx_bytes(rows))}
    )
    job = ImportJob.objects.get()
    page = client.get(reverse("admin:customers_importjob_progress", args=[job.pk])).content
    page = page.decode()
    assert "not a phone" in page
    assert "Import the 2 valid rows only" in page
    assert job.preview["errors"][0]["row"] == 4
    client.post(reverse("admin:customers_importjob_confirm", args=[job.pk]), {"valid_only": "1"})
    job.refresh_from_db()
    assert job.status == "done"
    assert set(Customer.objects.values_list("name", flat=True)) == {"张三", "李四"}


def test_purchase_import_with_create_customers(tea, client_for):
    rows = [
        ["日期", "手机", "姓名", "金额", "单号"],
        ["2025-03-01", "13800138000", "新客", "50", "P1"],
    ]
    client = client_for(tea.owner)
    page = client.get(reverse("admin:customers_purchase_import")).content.decode()
    assert "create_customers" in page
    client.post(
        reverse("admin:customers_purchase_import"),
        {"file": upload("p.csv", csv_bytes(rows)), "create_customers": "on"},
    )
    job = ImportJob.objects.get()
    client.post(reverse("admin:customers_importjob_confirm", args=[job.pk]))
    purchase = Purchase.objects.get()
    assert (purchase.customer.name, purchase.business) == ("新客", tea.business)


def test_staff_cannot_import(tea, client_for):
    client = client_for(tea.staff)
    assert client.get(reverse("admin:customers_customer_import")).status_code == 403
    response = client.post(
        reverse("admin:customers_customer_import"), {"file": upload("c.csv", csv_bytes(ROWS))}
    )
    assert response.status_code == 403
    assert not ImportJob.objects.exists()
    changelist = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert reverse("admin:customers_customer_import") not in changelist
    assert client.get(reverse("admin:customers_importjob_changelist")).status_code == 403


def test_other_business_job_is_404(tea, salon, client_for):
    job = import_job_create(
        business=salon.business,
        user=salon.owner,
        kind="customers",
        upload=upload("salon.csv", csv_bytes(ROWS)),
    )
    client = client_for(tea.owner)
    assert (
        client.get(reverse("admin:customers_importjob_progress", args=[job.pk])).status_code == 404
    )
    response = client.post(reverse("admin:customers_importjob_confirm", args=[job.pk]))
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == "ready"
    assert not Customer.objects.exists()
    listing = client.get(reverse("admin:customers_importjob_changelist")).content.decode()
    assert "salon.csv" not in listing
    own = client_for(salon.owner).get(reverse("admin:customers_importjob_changelist"))
    assert "salon.csv" in own.content.decode()


def test_large_file_goes_through_the_background_task(
    tea, client_for, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_SYNC_ROW_LIMIT = 2  # ROWS has 3 lines: too many for the request
    client = client_for(tea.owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(
            reverse("admin:customers_customer_import"), {"file": upload("c.csv", csv_bytes(ROWS))}
        )
    job = ImportJob.objects.get()
    assert job.status == "queued"
    assert len(callbacks) == 1
    progress = reverse("admin:customers_importjob_progress", args=[job.pk])
    assert 'http-equiv="refresh"' in client.get(progress).content.decode()

    callbacks[0]()  # the worker picks it up (Celery runs eagerly in the tests)
    job.refresh_from_db()
    assert job.status == "ready"
    assert job.preview["counts"]["new"] == 2

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:customers_importjob_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "done"
    assert Customer.objects.count() == 2


def test_process_is_idempotent_and_ignores_unknown_jobs(tea):
    job = import_job_create(
        business=tea.business,
        user=tea.owner,
        kind="customers",
        upload=upload("c.csv", csv_bytes(ROWS)),
    )
    job.status = "confirmed"
    job.save()
    import_job_process(job_id=job.pk)
    import_job_process(job_id=job.pk)
    import_job_process(job_id=987654)
    assert Customer.objects.count() == 2


def test_unreadable_file_fails_with_a_message(tea, client_for):
    client = client_for(tea.owner)
    client.post(
        reverse("admin:customers_customer_import"),
        {"file": upload("c.csv", b"\xff\xfe\x00garbage\x81\x82")},
    )
    job = ImportJob.objects.get()
    assert job.status == "failed"
    assert job.error
    assert (
        job.error
        in client.get(reverse("admin:customers_importjob_progress", args=[job.pk])).content.decode()
    )


def test_wrong_extension_is_refused_by_the_form(tea, client_for):
    response = client_for(tea.owner).post(
        reverse("admin:customers_customer_import"), {"file": upload("c.pdf", b"%PDF")}
    )
    assert response.status_code == 200
    assert "Upload a .csv or .xlsx file" in response.content.decode()
    assert not ImportJob.objects.exists()
