"""Open an uploaded file as a table: header row plus an iterator of (row number, cells).

Row numbers are those a spreadsheet shows (the header is usually row 1). CSV encodings are
detected, not asked: strict UTF-8 (with or without BOM) first, else GB18030 (a superset of
GBK/GB2312, what Excel saves on a Chinese Windows PC). Memory stays bounded: CSV is streamed,
XLSX is read with openpyxl's read-only mode.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _

BLOCK = 1 << 20
HEADER_SEARCH_ROWS = 10
DELIMITERS = (",", ";", "\t")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls

Source = str | os.PathLike | IO[bytes]
Scorer = Callable[[Sequence[Any]], int]


# A sheet's <row> elements, with or without a namespace prefix.
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")


def max_rows() -> int:
    """The most data rows one file may have (settings.XW_IMPORT_MAX_ROWS)."""
    return int(settings.XW_IMPORT_MAX_ROWS)


def _mb(megabytes: int) -> int:
    return int(megabytes) * 1024 * 1024


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        _(
            "The file has more than %(max)s rows, the most one import takes. Split it and "
            "import the parts one after another."
        )
        % {"max": f"{max_rows():,}"}
    )


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    headers: list[str]
    header_row: int
    estimated_rows: int | None
    file_format: str  # "csv" or "xlsx"
    encoding: str = ""
    _iter_rows: Callable[[], Iterator[tuple[int, Sequence[Any]]]] = field(repr=False, default=None)
    _close: Callable[[], None] | None = field(repr=False, default=None)

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """(row number, cells) for every non-blank row under the header; may be called again."""
        return self._iter_rows()

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


@contextmanager
def _binary(source: Source):
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield fh
    else:
        source.seek(0)
        yield source


def _head(source: Source, size: int = 8) -> bytes:
    with _binary(source) as fh:
        return fh.read(size)


def detect_encoding(source: Source) -> tuple[str, int]:
    """('utf-8-sig' or 'gb18030', number of line breaks), reading the whole file once."""
    lines = 0
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8 = True
    with _binary(source) as fh:
        while block := fh.read(BLOCK):
            lines += block.count(b"\n")
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
        if utf8:
            return "utf-8-sig", lines
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("gb18030")("strict")
        try:
            while block := fh.read(BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                _(
                    "The file is neither UTF-8 nor GBK/GB18030 text. Save it from Excel as "
                    "“CSV UTF-8” or as an .xlsx workbook."
                )
            ) from exc
    return "gb18030", lines


def _sniff_delimiter(sample: str) -> str:
    """The most frequent of comma, semicolon and tab in the first lines; comma on a tie."""
    lines = [line for line in sample.splitlines()[:HEADER_SEARCH_ROWS] if line.strip()]
    text = "\n".join(lines)
    counts = {d: text.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    if counts[best] == 0:
        try:
            return csv.Sniffer().sniff(text or ",", delimiters="".join(DELIMITERS)).delimiter
        except csv.Error:
            return ","
    return best


def _is_blank(cells: Sequence[Any]) -> bool:
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, str):
            if cell.strip():
                return False
        else:
            return False
    return True


def _find_header(candidates: list[tuple[int, Sequence[Any]]], score: Scorer) -> int:
    """Index in `candidates` of the header: the first row naming two known columns (a title
    row above the header is common), else one, else the first row."""
    scores = [score(cells) for _, cells in candidates]
    for needed in (2, 1):
        for i, s in enumerate(scores):
            if s >= needed:
                return i
    return 0


def _header_texts(cells: Sequence[Any]) -> list[str]:
    return ["" if c is None else str(c).strip() for c in cells]


def _field_limit() -> int:
    """Python's csv stops at fields over 131,072 characters with a bare error. Let long
    fields through (bounded by the upload size) so that each column's own length limit
    reports them as row errors."""
    return max(csv.field_size_limit(), int(settings.IMPORT_MAX_UPLOAD_MB) << 20)


def _open_csv(source: Source, score: Scorer) -> Table:
    encoding, lines = detect_encoding(source)
    if lines > max_rows() + HEADER_SEARCH_ROWS:
        raise _too_many_rows()
    csv.field_size_limit(_field_limit())

    def text_rows() -> Iterator[tuple[int, list[str]]]:
        with _binary(source) as fh:
            wrapper = io.TextIOWrapper(fh, encoding=encoding, newline="")
            try:
                sample = wrapper.read(64 * 1024)
                delimiter = _sniff_delimiter(sample)
                wrapper.seek(0)
                reader = csv.reader(wrapper, delimiter=delimiter)
                row_no = 0
                try:
                    for row_no, cells in enumerate(reader, start=1):
                        yield row_no, cells
                except csv.Error as exc:
                    raise ImportFileError(
                        _("The CSV file cannot be read after row %(row)d: %(error)s")
                        % {"row": row_no, "error": exc}
                    ) from exc
            finally:
                if isinstance(source, str | os.PathLike):
                    wrapper.close()
                else:
                    wrapper.detach()

    candidates = []
    gen = text_rows()
    try:
        for row_no, cells in gen:
            if _is_blank(cells):
                continue
            candidates.append((row_no, cells))
            if len(candidates) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file cannot be read: %(error)s") % {"error": exc}) from exc
    finally:
        gen.close()
    if not candidates:
        raise ImportFileError(_("The file is empty."))
    header_row, header = candidates[_find_header(candidates, score)]

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        last = header_row + max_rows()
        for row_no, cells in text_rows():
            if row_no <= header_row:
                continue
            if row_no > last:
                raise _too_many_rows()
            if not "".join(cells).strip():
                continue
            yield row_no, cells

    return Table(
        headers=_header_texts(header),
        header_row=header_row,
        estimated_rows=max(lines - header_row + 1, 0),
        file_format="csv",
        encoding=encoding,
        _iter_rows=rows,
    )


def check_xlsx_limits(source: Source) -> int:
    """Refuse a workbook that would unpack too large (a "zip bomb") or hold too many rows,
    before openpyxl parses it: openpyxl keeps every shared string in memory and reads rows
    one by one, so both are measured first, from the zip directory and by counting <row>
    tags while streaming each sheet through zlib (declared sizes bound what zipfile unpacks).
    Returns the largest sheet's number of rows."""
    limit_total = _mb(settings.XW_IMPORT_XLSX_MAX_UNCOMPRESSED_MB)
    limit_strings = _mb(settings.XW_IMPORT_XLSX_MAX_SHARED_STRINGS_MB)
    with _binary(source) as fh:
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFileError(
                _("The Excel file cannot be opened: %(error)s") % {"error": exc}
            ) from exc
        with archive:
            infos = archive.infolist()
            total = sum(i.file_size for i in infos)
            strings = sum(
                i.file_size for i in infos if i.filename.lower().endswith("sharedstrings.xml")
            )
            if strings > limit_strings:
                raise ImportFileError(
                    _(
                        "The text in this Excel file unpacks to %(size)s MB; an import takes "
                        "at most %(max)s MB of text. Save it as CSV, or split it."
                    )
                    % {"size": f"{strings / 1048576:,.0f}", "max": f"{limit_strings >> 20:,}"}
                )
            if total > limit_total:
                raise ImportFileError(
                    _(
                        "This Excel file unpacks to %(size)s MB; an import takes at most "
                        "%(max)s MB. Save it as CSV, or split it."
                    )
                    % {"size": f"{total / 1048576:,.0f}", "max": f"{limit_total >> 20:,}"}
                )
            limit_rows = max_rows() + HEADER_SEARCH_ROWS
            most = 0
            for info in infos:
                name = info.filename.lower()
                if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                    continue
                rows = 0
                tail = b""
                try:
                    with archive.open(info) as sheet:
                        while block := sheet.read(BLOCK):
                            data = tail + block
                            # A tag may straddle two blocks: the text from the last "<" on
                            # waits for the next block.
                            cut = data.rfind(b"<")
                            if cut < len(data) - 64:
                                cut = len(data)
                            rows += len(_ROW_TAG.findall(data, 0, cut))
                            tail = data[cut:]
                            if rows > limit_rows:
                                raise _too_many_rows()
                        rows += len(_ROW_TAG.findall(tail))
                        most = max(most, rows)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise ImportFileError(
                        _("The Excel file cannot be opened: %(error)s") % {"error": exc}
                    ) from exc
    return most


def _open_xlsx(source: Source, score: Scorer) -> Table:
    import openpyxl

    check_xlsx_limits(source)
    try:
        if isinstance(source, str | os.PathLike):
            workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
        else:
            source.seek(0)
            workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ImportFileError(
            _("The Excel file cannot be opened: %(error)s") % {"error": exc}
        ) from exc

    chosen = None
    for sheet in workbook.worksheets:
        candidates = [
            (row_no, cells)
            for row_no, cells in enumerate(
                sheet.iter_rows(max_row=HEADER_SEARCH_ROWS * 3, values_only=True), start=1
            )
            if not _is_blank(cells)
        ][:HEADER_SEARCH_ROWS]
        if not candidates:
            continue
        index = _find_header(candidates, score)
        if chosen is None or score(candidates[index][1]) > 0:
            chosen = (sheet, *candidates[index])
            if score(candidates[index][1]) > 0:
                break
    if chosen is None:
        workbook.close()
        raise ImportFileError(_("The file is empty."))
    sheet, header_row, header = chosen
    max_row = getattr(sheet, "max_row", None)

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        last = header_row + max_rows()
        for row_no, cells in enumerate(
            sheet.iter_rows(min_row=header_row + 1, values_only=True), start=header_row + 1
        ):
            if row_no > last:
                raise _too_many_rows()
            if _is_blank(cells):
                continue
            yield row_no, cells

    return Table(
        headers=_header_texts(header),
        header_row=header_row,
        estimated_rows=max(max_row - header_row, 0) if max_row else None,
        file_format="xlsx",
        _iter_rows=rows,
        _close=workbook.close,
    )


def open_table(source: Source, score: Scorer) -> Table:
    """Open CSV or XLSX (told apart by content, not by the name); `score` rates header rows."""
    head = _head(source)
    if head.startswith(ZIP_MAGIC):
        return _open_xlsx(source, score)
    if head.startswith(OLE_MAGIC):
        raise ImportFileError(
            _("Old Excel .xls files cannot be read. Save the sheet as .xlsx or CSV and try again.")
        )
    return _open_csv(source, score)


def estimate_rows(source: Source) -> int:
    """A cheap row count to choose between the request and the background worker."""
    try:
        head = _head(source)
        if head.startswith(ZIP_MAGIC):
            # Counted from the sheets' XML, not through openpyxl (which would load every
            # shared string: a "zip bomb" would be unpacked in the web process).
            return check_xlsx_limits(source)
        with _binary(source) as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(BLOCK), b""))
    except Exception:  # a damaged file: let the check report it properly
        if isinstance(source, str | os.PathLike):
            return Path(source).stat().st_size // 50
        return 0
