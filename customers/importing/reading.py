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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

BLOCK = 1 << 20
HEADER_SEARCH_ROWS = 10
DELIMITERS = (",", ";", "\t")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls

Source = str | os.PathLike | IO[bytes]
Scorer = Callable[[Sequence[Any]], int]


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


def _open_csv(source: Source, score: Scorer) -> Table:
    encoding, lines = detect_encoding(source)

    def text_rows() -> Iterator[tuple[int, list[str]]]:
        with _binary(source) as fh:
            wrapper = io.TextIOWrapper(fh, encoding=encoding, newline="")
            try:
                sample = wrapper.read(64 * 1024)
                delimiter = _sniff_delimiter(sample)
                wrapper.seek(0)
                reader = csv.reader(wrapper, delimiter=delimiter)
                yield from enumerate(reader, start=1)
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
        for row_no, cells in text_rows():
            if row_no <= header_row:
                continue
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


def _open_xlsx(source: Source, score: Scorer) -> Table:
    import openpyxl

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
        for row_no, cells in enumerate(
            sheet.iter_rows(min_row=header_row + 1, values_only=True), start=header_row + 1
        ):
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
            import openpyxl

            workbook = openpyxl.load_workbook(source, read_only=True)
            try:
                rows = sum((ws.max_row or 0) for ws in workbook.worksheets)
            finally:
                workbook.close()
            if rows:
                return rows
            # No dimension recorded: guess from the size (a compressed row is ~20 bytes).
            if isinstance(source, str | os.PathLike):
                return Path(source).stat().st_size // 20
            return 0
        with _binary(source) as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(BLOCK), b""))
    except Exception:  # a damaged file: let the check report it properly
        if isinstance(source, str | os.PathLike):
            return Path(source).stat().st_size // 50
        return 0
