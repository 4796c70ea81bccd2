"""The import and export admin: Import/Export buttons and views on the customer and purchase
lists, and the import jobs (upload → preview → confirm → result). Lives beside the import
pipeline it drives; customers/admin.py mixes it into its admins."""

import tempfile

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import BusinessScopedAdminMixin, business_for, is_owner

from ..exporting import CONTENT_TYPES, CSV, FORMATS, XLSX, export_filename, iter_csv, write_xlsx
from ..forms import ImportUploadForm
from ..models import Customer, ImportJob, Purchase
from .columns import ALIASES, FIELDS, LABELS
from .jobs import import_job_confirm, import_job_create, import_job_delete
from .pipeline import ERROR, STATE_LABELS, ImportReport


def can_import_export(request) -> bool:
    """Owners import and export; staff members do not (staff cannot export), and the
    operator, who has no business, never reads a business's customers."""
    user = request.user
    return bool(user.is_active and user.is_staff and is_owner(user))


class ImportExportMixin:
    """Import and Export buttons on a changelist, the upload page and the export views."""

    import_kind: str
    change_list_template = "admin/customers/change_list_import_export.html"

    def export_table(self, business, queryset):
        raise NotImplementedError

    def _url_name(self, what: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{what}"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name=self._url_name("import")),
            path("export/<str:fmt>/", wrap(self.export_view), name=self._url_name("export")),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if can_import_export(request):
            extra["xw_import_url"] = reverse(f"admin:{self._url_name('import')}")
            extra["xw_export_urls"] = [
                (fmt.upper(), reverse(f"admin:{self._url_name('export')}", args=[fmt]))
                for fmt in FORMATS
            ]
        return super().changelist_view(request, extra)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not can_import_export(request):
            actions.pop("export_selected_csv", None)
            actions.pop("export_selected_xlsx", None)
        return actions

    def _export_response(self, request, queryset, fmt: str):
        if not can_import_export(request):
            raise PermissionDenied
        business = business_for(request.user)
        table = self.export_table(business, queryset)
        filename = export_filename(business, self.import_kind, fmt)
        if fmt == CSV:
            response = StreamingHttpResponse(iter_csv(table), content_type=CONTENT_TYPES[CSV])
            response["Content-Disposition"] = content_disposition_header(True, filename)
            return response
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it
        write_xlsx(table, spool)
        spool.seek(0)
        return FileResponse(
            spool, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[XLSX]
        )

    def export_view(self, request, fmt: str):
        """Everything the changelist shows with its current filters and search."""
        if not can_import_export(request):
            raise PermissionDenied
        if fmt not in FORMATS:
            raise Http404
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return self._export_response(request, changelist.get_queryset(request), fmt)

    @admin.action(description=_("Export selected as CSV"))
    def export_selected_csv(self, request, queryset):
        return self._export_response(request, queryset, CSV)

    @admin.action(description=_("Export selected as Excel (XLSX)"))
    def export_selected_xlsx(self, request, queryset):
        return self._export_response(request, queryset, XLSX)

    def import_view(self, request):
        if not can_import_export(request):
            raise PermissionDenied
        business = business_for(request.user)
        form = ImportUploadForm(request.POST or None, request.FILES or None, kind=self.import_kind)
        if request.method == "POST" and form.is_valid():
            job = import_job_create(
                business=business,
                user=request.user,
                kind=self.import_kind,
                upload=form.cleaned_data["file"],
                valid_only=form.cleaned_data["valid_only"],
                create_customers=form.cleaned_data.get("create_customers", False),
                language=translation.get_language(),
            )
            return redirect("admin:customers_importjob_progress", job.pk)
        columns = [
            (LABELS[name], ", ".join(a for a in ALIASES[name] if not a.isascii())[:60])
            for name in FIELDS[self.import_kind]
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import %(things)s") % {"things": self.opts.verbose_name_plural},
            "form": form,
            "columns": columns,
            "recent": ImportJob.objects.for_business(business)
            .filter(kind=self.import_kind)
            .select_related("created_by")[:5],
        }
        return TemplateResponse(request, "admin/customers/import/upload.html", context)


@admin.register(ImportJob)
class ImportJobAdmin(BusinessScopedAdminMixin, admin.ModelAdmin):
    """Past and running imports: the upload → preview → confirm → result pages live here."""

    list_display = ("created_at", "kind", "file_link", "status", "summary", "created_by")
    list_display_links = None
    list_filter = ("kind", "status")
    list_select_related = ("created_by",)
    ordering = ("-created_at", "-id")
    list_per_page = 50

    def has_module_permission(self, request):
        return can_import_export(request)

    def has_view_permission(self, request, obj=None):
        return can_import_export(request)

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return can_import_export(request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/progress/",
                wrap(self.progress_view),
                name="customers_importjob_progress",
            ),
            path("<int:pk>/confirm/", wrap(self.confirm_view), name="customers_importjob_confirm"),
            *super().get_urls(),
        ]

    @admin.display(description=_("file"), ordering="original_name")
    def file_link(self, obj: ImportJob) -> str:
        url = reverse("admin:customers_importjob_progress", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.original_name or "—")

    @admin.display(description=_("rows"))
    def summary(self, obj: ImportJob) -> str:
        data = obj.result or obj.preview or {}
        counts = data.get("counts") or {}
        if not counts:
            return "—"
        return ", ".join(
            f"{STATE_LABELS[state]} {n}"
            for state, n in counts.items()
            if n and state in STATE_LABELS
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            raise Http404
        return redirect("admin:customers_importjob_progress", int(object_id))

    def delete_model(self, request, obj):
        import_job_delete(job=obj)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            import_job_delete(job=job)

    def _job(self, request, pk: int) -> ImportJob:
        if not can_import_export(request):
            raise PermissionDenied
        # Scoped: another business's job is simply not there.
        return get_object_or_404(self.get_queryset(request).select_related("business"), pk=pk)

    def progress_view(self, request, pk: int):
        job = self._job(request, pk)
        data = job.result if job.status == ImportJob.Status.DONE else job.preview
        report = ImportReport.from_dict(data) if data else None
        rows = []
        if report is not None:
            for entry in report.preview:
                rows.append({**entry, "label": STATE_LABELS.get(entry["state"], entry["state"])})
        model = Customer if job.kind == ImportJob.Kind.CUSTOMERS else Purchase
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import of %(file)s") % {"file": job.original_name},
            "job": job,
            "report": report,
            "rows": rows,
            "error_state": ERROR,
            "state_counts": [
                (STATE_LABELS[state], n) for state, n in (report.counts.items() if report else [])
            ],
            "refresh": job.is_running,
            "can_confirm": bool(
                job.status == ImportJob.Status.READY
                and report is not None
                and not report.file_error
                and report.to_write
            ),
            "changelist_url": reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
            ),
            "import_url": reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_import"),
        }
        return TemplateResponse(request, "admin/customers/import/job.html", context)

    def confirm_view(self, request, pk: int):
        job = self._job(request, pk)
        if request.method == "POST":
            valid_only = True if request.POST.get("valid_only") else None
            import_job_confirm(job=job, valid_only=valid_only)
        return redirect("admin:customers_importjob_progress", job.pk)
