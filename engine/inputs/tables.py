"""Spreadsheets as input lists: CSV/TSV (delimiter and encoding detected) and Excel workbooks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.inputs.classify import looks_like_url
from engine.inputs.columns import describe_headers, plan_columns, row_source
from engine.inputs.lists import decode_text, read_bytes
from engine.inputs.source import Place, Source

_DELIMITERS = ",;\t|"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SNIFF_SAMPLE = 64 * 1024

Row = tuple[int, list[str]]


def read_csv_table(
    path: Path, place: Place, columns: Mapping[str, str] | None = None
) -> list[Source]:
    """Sources from a CSV or TSV file; row numbers match a spreadsheet's (header is row 1)."""
    text = decode_text(read_bytes(path, place))
    delimiter = choose_delimiter(text, prefer_tab=path.suffix.lower() == ".tsv")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[Row] = []
    try:
        for number, cells in enumerate(reader, 1):
            rows.append((number, cells))
    except csv.Error as exc:
        raise UsageError(
            f"{place.label} row {len(rows) + 1} cannot be read as CSV: {exc}",
            hint="open it in a spreadsheet and save it again as CSV",
        ) from None
    return table_sources(rows, place, columns)


def choose_delimiter(text: str, *, prefer_tab: bool = False) -> str:
    """The delimiter the header line uses; csv.Sniffer settles it when several appear."""
    header = next((line for line in _LINE_BREAK.split(text[:_SNIFF_SAMPLE]) if line.strip()), "")
    present = [d for d in _DELIMITERS if d in header]
    if prefer_tab and "\t" in present:
        return "\t"
    if len(present) == 1:
        return present[0]
    if present:
        try:
            sniffed = csv.Sniffer().sniff(text[: _SNIFF_SAMPLE // 4], delimiters="".join(present))
            if sniffed.delimiter in present:
                return sniffed.delimiter
        except csv.Error:
            pass  # the sniffer gives up on irregular files; the header count decides instead
        return max(present, key=header.count)
    # A single column: split on a character the file does not contain, so commas in URLs survive.
    return next((c for c in "\x1f\x1e\x1d\x1c" if c not in text), ",")


def read_xlsx_table(
    path: Path, place: Place, columns: Mapping[str, str] | None = None
) -> list[Source]:
    """Sources from the first worksheet; formulas give their cached values and are never run."""
    import openpyxl  # loaded on demand: most runs never open a workbook

    read_bytes(path, place)  # the same clear message as other lists for a missing file
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a damaged file
        raise UsageError(
            f"{place.label} is not a readable Excel workbook ({type(exc).__name__}: {exc})",
            hint="open it in a spreadsheet and save it again as .xlsx, or export it as CSV",
        ) from None
    try:
        if not workbook.worksheets:
            raise UsageError(f"{place.label} has no worksheet")
        sheet = workbook.worksheets[0]
        # Some writers store a wrong sheet size; forgetting it makes openpyxl read every cell.
        sheet.reset_dimensions()
        rows = [
            (number, [cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1)
        ]
    finally:
        workbook.close()
    return table_sources(rows, place, columns)


def cell_text(value: Any) -> str:
    """A spreadsheet value as the text a person sees (12 not 12.0, dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def table_sources(
    rows: Iterable[Row], place: Place, columns: Mapping[str, str] | None = None
) -> list[Source]:
    """Header is the first non-empty row; every later row with data becomes one source."""
    remaining = iter(rows)
    header = next((cells for _, cells in remaining if any(c.strip() for c in cells)), None)
    if header is None:
        raise UsageError(f"{place.label} is empty: no header row", hint=_header_hint())
    plan = plan_columns(header, columns, label=place.label)
    if "url" not in plan.fields:
        looks_headerless = any(looks_like_url(cell) for cell in header)
        raise UsageError(
            f"{place.label} has no URL column (found: {describe_headers(header)})",
            hint=(
                "the first row looks like a link: add a header row such as 'url' above it"
                if looks_headerless
                else "name the column with --columns url=HEADER"
            ),
        )
    sources = []
    for number, cells in remaining:
        source = row_source(cells, plan, place, number)
        if source is not None:
            sources.append(source)
    return sources


def _header_hint() -> str:
    return "the first row must name the columns, e.g. url,title"
