"""Forms of the customers app that are not model forms: the import upload."""

import os

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import ImportJob

ALLOWED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")


def max_upload_mb() -> int:
    return settings.IMPORT_MAX_UPLOAD_MB


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8, or GBK as Excel saves it on a Chinese PC) or an Excel .xlsx workbook. "
            "Column names in the first row, in Chinese or English (姓名/name, 手机/phone, …)."
        ),
    )
    valid_only = forms.BooleanField(
        label=_("Import the valid rows only"),
        required=False,
        help_text=_(
            "Without this, a file with any error row imports nothing, so you can fix it "
            "and upload it again."
        ),
    )
    create_customers = forms.BooleanField(
        label=_("Create missing customers"),
        required=False,
        help_text=_(
            "A purchase for a customer number or phone you do not have yet creates that customer."
        ),
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind != ImportJob.Kind.PURCHASES:
            del self.fields["create_customers"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        extension = os.path.splitext(upload.name or "")[1].lower()
        if extension not in ALLOWED_EXTENSIONS:
            raise forms.ValidationError(
                _("Upload a .csv or .xlsx file (an old .xls: save it as .xlsx first).")
            )
        if upload.size > max_upload_mb() * 1024 * 1024:
            raise forms.ValidationError(
                _("The file is larger than %(size)d MB.") % {"size": max_upload_mb()}
            )
        return upload
