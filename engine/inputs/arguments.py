"""Read every argument (links, paths, folders, lists, tables, stdin) into one InputBatch."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from engine.inputs.classify import MEDIA_EXTENSIONS, has_url_scheme, looks_like_url
from engine.inputs.folders import folder_sources
from engine.inputs.lists import (
    line_sources,
    read_guessed_list,
    read_json_list,
    read_markdown_list,
    read_text_list,
)
from engine.inputs.reading import read_stream, special_file_kind
from engine.inputs.source import (
    InputBatch,
    Place,
    ReadOptions,
    Source,
    drop_duplicates,
    entry_source,
)
from engine.inputs.tables import read_csv_table, read_xlsx_table

ListReader = Callable[[Path, Place, ReadOptions | None], list[Source]]

# suffix -> (reader, the word messages use for one entry)
LIST_READERS: Mapping[str, tuple[ListReader, str]] = {
    ".txt": (read_text_list, "line"),
    ".list": (read_text_list, "line"),
    ".md": (read_markdown_list, "line"),
    ".markdown": (read_markdown_list, "line"),
    ".csv": (read_csv_table, "row"),
    ".tsv": (read_csv_table, "row"),
    ".xlsx": (read_xlsx_table, "row"),
    ".xlsm": (read_xlsx_table, "row"),
    ".json": (read_json_list, "item"),
}


def read_inputs(
    args: Sequence[str],
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
    stdin: TextIO | None = None,
    cwd: Path | None = None,
) -> InputBatch:
    """Parse every argument in order; only an unreadable list file raises (UsageError).

    ``sheet`` names the worksheet to read in workbooks (default: the first visible one).
    """
    options = ReadOptions(columns, sheet)
    base = Path(os.path.abspath(cwd or Path.cwd()))
    sources: list[Source] = []
    for arg in args:
        sources.extend(_read_arg(arg, base, options, stdin))
    return drop_duplicates(sources)


def _read_arg(arg: str, base: Path, options: ReadOptions, stdin: TextIO | None) -> list[Source]:
    args_place = Place("args", "arguments", "", (base,))
    if arg == "-":
        place = Place("stdin", "stdin", "line", (base,))
        return line_sources(read_stream(stdin if stdin is not None else sys.stdin, place), place)
    if has_url_scheme(arg) or not arg.strip():
        return [entry_source(arg, args_place, None)]
    path = base / os.path.expanduser(arg.strip())
    try:
        is_folder, exists = path.is_dir(), path.exists()
    except (OSError, ValueError):
        is_folder = exists = False
    if is_folder:
        return folder_sources(path, args_place, arg)
    reader = LIST_READERS.get(path.suffix.lower())
    if reader is None and not path.suffix and exists and _is_text_file(path):
        reader = (read_guessed_list, "line")  # a list saved without an extension
    # "www.example.org/feed.json" is a web address unless such a file really exists here.
    if reader is None or (not exists and looks_like_url(arg)):
        return [entry_source(arg, args_place, None)]
    read, unit = reader
    list_dir = Path(os.path.abspath(path.parent))
    bases = (list_dir,) if list_dir == base else (list_dir, base)
    return read(path, Place(os.path.abspath(path), arg, unit, bases), options)


def _is_text_file(path: Path) -> bool:
    """A regular file that is not media and whose start reads as text (no NUL bytes)."""
    if path.suffix.lower() in MEDIA_EXTENSIONS or special_file_kind(path) is not None:
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    if not head or b"\x00" in head:
        return False  # media without an extension, or an empty file: say so per entry
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a character at the end of the sample is still text.
        return exc.start >= len(head) - 3 or _mostly_printable(head)
    return True


def _mostly_printable(head: bytes) -> bool:
    text = head.decode("cp1252", errors="replace")
    return sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.95 * len(text)
