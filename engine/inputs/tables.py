"""Spreadsheets as input lists: CSV/TSV (delimiter and encoding detected) and Excel workbooks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.inputs.classify import looks_like_url
from engine.inputs.columns import choose_url_by_content, describe_headers, plan_columns, row_sources
from engine.inputs.reading import MAX_CELL_CHARS, MAX_LIST_BYTES, decode_text, read_bytes, shorten
from engine.inputs.source import Place, ReadOptions, Source, invalid_source

_DELIMITERS = ",;\t|"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SNIFF_SAMPLE = 64 * 1024

Row = tuple[int, list[str]]
Broken = dict[int, str]  # row number -> why that row cannot be used


def read_csv_table(path: Path, place: Place, options: ReadOptions | None = None) -> list[Source]:
    """Sources from a CSV or TSV file; row numbers match a spreadsheet's (header is row 1)."""
    text = decode_text(read_bytes(path, place))
    delimiter = choose_delimiter(text, prefer_tab=path.suffix.lower() == ".tsv")
    # The csv module's own cap (128 KB a field) fails the whole file; cells are checked here
    # instead, one row at a time, so the list's size cap is the only limit left to the reader.
    if csv.field_size_limit() < MAX_LIST_BYTES:
        csv.field_size_limit(MAX_LIST_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[Row] = []
    broken: Broken = {}
    single: tuple[int, str] | None = None  # a row that took in one row-like line, if last
    last_line = width = 0
    try:
        for number, cells in enumerate(reader, 1):
            first_line, last_line = last_line + 1, reader.line_num
            width = width or (len(cells) if any(c.strip() for c in cells) else 0)
            taken = _swallowed(cells, delimiter, width)
            reason = _oversize(cells)
            if not reason and taken:
                reason = (
                    f"a quote opened in this row is not closed, so lines {first_line}-{last_line} "
                    f"of the file were read as one cell and {taken} row(s) after it were lost; "
                    "close or remove the stray quote"
                )
                if taken == 1:
                    single, reason = (number, reason), None
            if reason:
                broken[number] = reason
                cells = [shorten(c) for c in cells]
            rows.append((number, cells))
    except csv.Error as exc:
        raise UsageError(
            f"{place.label} row {len(rows) + 1} cannot be read as CSV: {exc}",
            hint="open it in a spreadsheet and save it again as CSV",
        ) from None
    if single is not None and rows and rows[-1][0] == single[0]:
        broken[single[0]] = single[
            1
        ]  # one row-like line is only damning if the quote ran to the end
    return table_sources(rows, place, options, broken=broken)


def _oversize(cells: list[str]) -> str | None:
    for index, cell in enumerate(cells):
        if len(cell) > MAX_CELL_CHARS:
            return (
                f"column {index + 1} holds {len(cell) // 1024} KB, over the "
                f"{MAX_CELL_CHARS // 1024} KB limit for one cell"
            )
    return None


def _swallowed(cells: list[str], delimiter: str, width: int) -> int:
    """How many rows a quote opened in this row took in (0 for an honest multi-line cell).

    A real multi-line cell (an address, show notes) holds prose; a line inside it that splits
    into as many cells as the header has, one of them a link, is a row an unclosed quote
    turned into text.
    """
    most = 0
    for cell in cells:
        lines = cell.splitlines()[1:]
        most = max(most, sum(1 for line in lines if _row_like(line, delimiter, width)))
    return most


def _row_like(line: str, delimiter: str, width: int) -> bool:
    parts = line.split(delimiter)
    if width > 1 and len(parts) != width:
        return False
    return any(looks_like_url(part.strip().strip('"')) for part in parts)


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


def read_xlsx_table(path: Path, place: Place, options: ReadOptions | None = None) -> list[Source]:
    """Sources from the first visible worksheet (or ``--sheet``); formulas are never run."""
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
        sheet = _choose_sheet(workbook, place, options.sheet if options else None)
        # Some writers store a wrong sheet size; forgetting it makes openpyxl read every cell.
        sheet.reset_dimensions()
        rows = [
            (number, [cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1)
        ]
    finally:
        workbook.close()
    # No cell cap here: openpyxl reads at most Excel's 32,767 characters a cell.
    return table_sources(rows, place, options)


def _choose_sheet(workbook: Any, place: Place, wanted: str | None) -> Any:
    """The sheet named by ``--sheet`` (any case), else the first one a person sees in Excel."""
    sheets = list(workbook.worksheets)
    if not sheets:
        raise UsageError(f"{place.label} has no worksheet")
    names = ", ".join(f"'{s.title}'" for s in sheets[:12])
    if wanted is not None:
        found = [s for s in sheets if s.title.casefold() == wanted.strip().casefold()]
        if not found:
            raise UsageError(
                f"{place.label} has no sheet named '{wanted}' (sheets: {names})",
                hint="use --sheet with one of those names",
            )
        return found[0]
    visible = [s for s in sheets if getattr(s, "sheet_state", "visible") == "visible"]
    if not visible:
        raise UsageError(
            f"{place.label} has only hidden sheets ({names})", hint="choose one with --sheet NAME"
        )
    return visible[0]


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
    rows: Iterable[Row],
    place: Place,
    options: ReadOptions | None = None,
    *,
    broken: Mapping[int, str] | None = None,
) -> list[Source]:
    """Header is the first non-empty row; every later row with data becomes one source or more."""
    remaining = iter(rows)
    first = next(((n, cells) for n, cells in remaining if any(c.strip() for c in cells)), None)
    if first is None:
        raise UsageError(f"{place.label} is empty: no header row", hint=_header_hint())
    broken = broken or {}
    if first[0] in broken:
        raise UsageError(f"{place.label} header row {first[0]}: {broken[first[0]]}")
    header = first[1]
    data = list(remaining)
    plan = plan_columns(header, options.columns if options else None, label=place.label)
    looks_headerless = any(looks_like_url(cell) for cell in header)
    note = None
    if not looks_headerless:
        plan, note = choose_url_by_content(plan, [c for n, c in data if n not in broken])
    if "url" not in plan.fields:
        raise UsageError(
            f"{place.label} has no URL column (found: {describe_headers(header)})",
            hint=(
                "the first row looks like a link: add a header row such as 'url' above it"
                if looks_headerless
                else "name the column with --columns url=HEADER"
            ),
        )
    sources: list[Source] = []
    for number, cells in data:
        if number in broken:
            raw = " | ".join(c.strip() for c in cells if c.strip())
            sources.append(invalid_source(raw, place, number, broken[number]))
            continue
        sources.extend(row_sources(cells, plan, place, number))
    if note and sources:
        first_source = sources[0]
        sources[0] = replace(first_source, notes=(f"{place.label}: {note}", *first_source.notes))
    return sources


def _header_hint() -> str:
    return "the first row must name the columns, e.g. url,title"
