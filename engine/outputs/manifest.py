"""The batch reports: manifest.json for programs, items.csv for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.outputs.atomic import atomic_write, ensure_folder
from engine.outputs.formats import FORMATS

MANIFEST_NAME = "manifest.json"
ITEMS_CSV_NAME = "items.csv"
CSV_COLUMNS = (
    "source",
    "origin",
    "row",
    "kind",
    "title",
    "status",
    "method",
    "engine",
    "attempts",
    "error",
    "duration",
    "outcome",
)
HOST_COLUMN = "host"  # a distributed batch's rows only: the machine that transcribed each item
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def relative(folder: Path, path: object) -> str:
    """path relative to folder with "/" separators, or as given when it lies elsewhere."""
    root = Path(folder).resolve()
    target = Path(str(path))
    target = (root / target).resolve() if not target.is_absolute() else target.resolve()
    if target.is_relative_to(root):
        return target.relative_to(root).as_posix()
    return str(path)


def _plain(value: Any) -> Any:
    """A value json can write without inventing NaN or failing on paths and dates."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _with_relative_outputs(folder: Path, item: Mapping[str, object]) -> dict[str, object]:
    row = dict(item)
    outputs = item.get("outputs")
    if isinstance(outputs, Mapping):
        row["outputs"] = {str(fmt): relative(folder, path) for fmt, path in outputs.items()}
    return row


def write_manifest(
    folder: Path, session: Mapping[str, object], items: Sequence[Mapping[str, object]]
) -> Path:
    """Write manifest.json: the session, counts per status, and every item with relative outputs."""
    folder = Path(folder)
    counts = Counter(str(item.get("status")) for item in items)
    data = {
        "session": _plain(session),
        "counts": dict(sorted(counts.items())),
        "items": [_plain(_with_relative_outputs(folder, item)) for item in items],
    }
    ensure_folder(folder)
    path = folder / MANIFEST_NAME
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return path


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: formulas are defused with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _outputs(row: Mapping[str, object]) -> Mapping[str, object]:
    outputs = row.get("outputs")
    return outputs if isinstance(outputs, Mapping) else {}


def write_items_csv(folder: Path, items: Sequence[Mapping[str, object]]) -> Path:
    """Write items.csv: one row per item, one relative-path column per output format present."""
    folder = Path(folder)
    rows = [_with_relative_outputs(folder, item) for item in items]
    outputs_per_row = [_outputs(row) for row in rows]
    formats = [fmt for fmt in FORMATS if any(fmt in outputs for outputs in outputs_per_row)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = [*CSV_COLUMNS, *([HOST_COLUMN] if any(r.get(HOST_COLUMN) for r in rows) else [])]
    writer.writerow([*columns, *formats])
    for row, outputs in zip(rows, outputs_per_row, strict=True):
        writer.writerow(
            [csv_cell(row.get(column)) for column in columns]
            + [csv_cell(outputs.get(fmt)) for fmt in formats]
        )
    ensure_folder(folder)
    path = folder / ITEMS_CSV_NAME
    # The byte-order mark tells Excel the file is UTF-8, so accented titles survive a double-click.
    atomic_write(path, "\ufeff" + buffer.getvalue())
    return path
