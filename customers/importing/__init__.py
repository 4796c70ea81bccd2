"""Customer and purchase import: one pipeline for the admin, the worker and the command line.

    report = import_file(path, business=b, kind="customers", dry_run=True)

- `reading`: bytes → rows (UTF-8 / UTF-8 with BOM / GB18030 CSV, XLSX), header row found;
- `columns`: header aliases (English and Chinese) → fields;
- `parsing`: cells → values (phones, dates, amounts, choices), with translatable errors;
- `customer_import` / `purchase_import`: validation, matching, de-duplication, bulk write;
- `pipeline`: the entry point and the report; `jobs`: the admin's upload → preview → confirm.
"""

from .pipeline import ImportReport, import_file

__all__ = ["ImportReport", "import_file"]
