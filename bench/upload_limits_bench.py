#!/usr/bin/env python
# ruff: noqa: E501 - the XML parts of a workbook are kept on one line each
"""Benchmark: hostile spreadsheets against the import's limits (issue 9, item 10).

    .venv/bin/python bench/upload_limits_bench.py [--before-tree DIR] [--timeout 300]

Builds under var/bench/ (once, reused):
- bomb.xlsx: ~200 KB whose shared strings unpack to ~210 MB;
- rows.xlsx: 3,000,000 rows of name + phone (inline strings, a few MB);
- ok.xlsx: 10,000 ordinary customer rows — the reference, measured in the same run.

Each file is checked by a customer import dry run (`import_file(..., dry_run=True)`, what the
admin preview and `import_customers --dry-run` do), each in its own process on a throwaway
SQLite database with one business: wall time and peak resident memory (VmHWM) above the
process's memory before the import. `--before-tree` runs the same against another checkout
(e.g. `git archive <commit> | tar -x -C DIR`) for a before/after. A run over --timeout is
killed and reported as such.
Goal: any upload within the size limit peaks under +200 MB and is refused or done in ≤ 60 s.
Writes bench/results/upload_limits.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
DATA_DIR = BASE_DIR / "var" / "bench"
RESULTS = BENCH_DIR / "results" / "upload_limits.json"
DB = DATA_DIR / "upload_limits.sqlite3"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = "</sheetData></worksheet>"
SST_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _workbook(path: Path, rows, strings) -> None:
    """An .xlsx written part by part (streamed: nothing big is held in memory here)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, head, parts, tail in (
            ("xl/worksheets/sheet1.xml", SHEET_HEAD, rows, SHEET_TAIL),
            ("xl/sharedStrings.xml", SST_HEAD, strings, "</sst>"),
        ):
            with z.open(name, "w", force_zip64=True) as out:
                out.write(head.encode())
                buffer = []
                for part in parts:
                    buffer.append(part)
                    if len(buffer) >= 10_000:
                        out.write("".join(buffer).encode())
                        buffer.clear()
                out.write("".join(buffer).encode())
                out.write(tail.encode())
    tmp.rename(path)


def _cell_rows(n: int):
    yield '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c>'
    yield '<c r="B1" t="inlineStr"><is><t>phone</t></is></c></row>'
    for i in range(2, n + 2):
        yield (
            f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>客户{i}</t></is></c>'
            f'<c r="B{i}" t="inlineStr"><is><t>138{i:08d}</t></is></c></row>'
        )


def build_files() -> dict[str, Path]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    files = {
        "bomb": DATA_DIR / "bomb.xlsx",
        "rows": DATA_DIR / "rows.xlsx",
        "ok": DATA_DIR / "ok.xlsx",
    }
    if not files["bomb"].exists():
        shared = ("<si><t>" + "x" * 200 + "</t></si>" for _ in range(1_000_000))
        _workbook(
            files["bomb"],
            [
                '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                '<row r="2"><c r="A2" t="s"><v>1</v></c></row>',
            ],
            shared,
        )
    if not files["rows"].exists():
        _workbook(files["rows"], _cell_rows(3_000_000), [])
    if not files["ok"].exists():
        _workbook(files["ok"], _cell_rows(10_000), [])
    return files


CHILD = r"""
import json, os, sys, time
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.core.management import call_command
from accounts.models import Business
call_command("migrate", verbosity=0)
business, _ = Business.objects.get_or_create(slug="bench", defaults={"name": "bench"})
from customers.importing import import_file

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
before = status("VmRSS")
started = time.perf_counter()
report = import_file(sys.argv[1], business=business, kind="customers", dry_run=True)
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": round(seconds, 2),
    "rss_before_mb": round(before / 2**20, 1),
    "peak_growth_mb": round((status("VmHWM") - before) / 2**20, 1),
    "refused": bool(report.file_error),
    "message": report.file_error[:160],
    "rows": report.total_rows,
}))
"""


def run_case(tree: Path, path: Path, timeout: float) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings.local",
        "DATABASE_URL": f"sqlite:///{DB}",
    }
    started = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"killed_after_s": timeout}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": out.stderr[-500:], "seconds": round(time.perf_counter() - started, 1)}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before-tree", type=Path, help="a checkout to measure as 'before'")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    files = build_files()
    result = {
        "files": {
            k: {
                "bytes": p.stat().st_size,
                "unpacked_bytes": sum(i.file_size for i in zipfile.ZipFile(p).infolist()),
            }
            for k, p in files.items()
        },
        "goal": "peak growth < 200 MB and refused or done in <= 60 s",
        "after": {},
    }
    for name, path in files.items():
        result["after"][name] = run_case(BASE_DIR, path, args.timeout)
        print("after", name, result["after"][name], flush=True)
    if args.before_tree:
        result["before"] = {}
        for name, path in files.items():
            result["before"][name] = run_case(args.before_tree, path, args.timeout)
            print("before", name, result["before"][name], flush=True)
    elif RESULTS.exists():  # keep the last measured "before"
        old = json.loads(RESULTS.read_text())
        if "before" in old:
            result["before"] = old["before"]
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    after = result["after"]
    ok = all(
        r.get("peak_growth_mb", 1e9) < 200 and r.get("seconds", 1e9) <= 60 for r in after.values()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
