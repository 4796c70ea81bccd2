"""Fixtures for the import/export tests: files built in the test, uploads kept in tmp."""

import csv
import io
from pathlib import Path

import openpyxl
import pytest


@pytest.fixture
def media_in_tmp(settings, tmp_path):
    """Uploaded import files land in a throwaway MEDIA_ROOT, never in var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def csv_bytes(rows, *, encoding="utf-8", delimiter=",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def make_file(tmp_path):
    """make_file(rows, name="x.csv", encoding=..., delimiter=...) → path of a CSV or XLSX."""

    def make(rows, name="file.csv", **kwargs) -> Path:
        path = tmp_path / name
        if name.endswith(".xlsx"):
            path.write_bytes(xlsx_bytes(rows))
        else:
            path.write_bytes(csv_bytes(rows, **kwargs))
        return path

    return make
