"""Sources: one parsed input each, and the batch of them that a run starts from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.inputs.classify import classify
from engine.redact import redact_text

KINDS = ("youtube", "playlist", "url", "file", "invalid")


class FrozenMap(Mapping[str, str]):
    """A read-only, hashable str -> str mapping that keeps insertion order."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


EMPTY_EXTRAS = FrozenMap()


@dataclass(frozen=True, slots=True)
class Source:
    """One input: what it is, where it points, and where it came from.

    ``raw`` never holds URL credentials; ``error`` says what is wrong when ``kind`` is "invalid".
    """

    raw: str
    kind: str
    location: str
    origin: str
    row: int | None
    title: str | None = None
    extras: Mapping[str, str] = field(default=EMPTY_EXTRAS)
    error: str | None = None
    duplicate_of: int | None = None
    notes: tuple[str, ...] = ()  # what was decided on the user's behalf (a column, a fallback)

    def __post_init__(self) -> None:
        if not isinstance(self.extras, FrozenMap):
            object.__setattr__(self, "extras", FrozenMap(self.extras))

    @property
    def valid(self) -> bool:
        return self.kind != "invalid"


@dataclass(frozen=True, slots=True)
class InputBatch:
    """Sources in input order with duplicates removed (and listed separately); invalid ones kept."""

    sources: tuple[Source, ...]
    duplicates: tuple[Source, ...] = ()
    notes: tuple[str, ...] = ()  # decisions taken while reading, for the summary

    def counts(self) -> dict[str, int]:
        """Number of sources of each kind (every kind present, zero when absent)."""
        counts = dict.fromkeys(KINDS, 0)
        for source in self.sources:
            counts[source.kind] = counts.get(source.kind, 0) + 1
        return counts

    @property
    def invalid(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.kind == "invalid")


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How list files are read: column overrides (``--columns``) and the workbook sheet."""

    columns: Mapping[str, str] | None = None
    sheet: str | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """Where entries come from, for both the ``origin`` field and messages a person reads."""

    origin: str  # "args", "stdin", or the list file's absolute path
    label: str  # how messages name it: the path as the user typed it, or "stdin"
    unit: str  # "line", "row" or "item"
    bases: tuple[Path, ...]  # folders that relative paths are looked up in, in order

    def where(self, row: int | None) -> str:
        return f"{self.label} {self.unit} {row}" if row is not None else self.label


def entry_source(
    text: str,
    place: Place,
    row: int | None,
    *,
    title: str | None = None,
    extras: Mapping[str, str] | None = None,
    column: str | None = None,
    notes: tuple[str, ...] = (),
) -> Source:
    """Classify one entry and wrap it as a Source whose error names its place (and column)."""
    kind, location, error = classify(text, bases=place.bases)
    if error is not None and place.origin != "args":
        # The place leads (people and tools look for "list.csv row 4:"); the cell follows.
        cell = "column" if place.unit == "row" else "field"
        error = f"{place.where(row)}: {error}" + (f" ({cell} '{column}')" if column else "")
    return Source(
        raw=redact_text(text),  # the shown and stored form; ``location`` keeps what requests need
        kind=kind,
        location=location,
        origin=place.origin,
        row=row,
        title=title or None,
        extras=FrozenMap(extras),
        error=error,
        notes=notes,
    )


def invalid_source(
    raw: str,
    place: Place,
    row: int | None,
    reason: str,
    *,
    title: str | None = None,
    extras: Mapping[str, str] | None = None,
) -> Source:
    """A Source that could not be read at all, with the reason a person can act on."""
    where = f"{place.where(row)}: " if place.origin != "args" else ""
    return Source(
        raw=redact_text(raw),
        kind="invalid",
        location="",
        origin=place.origin,
        row=row,
        title=title,
        extras=FrozenMap(extras),
        error=f"{where}{reason}",
    )


def drop_duplicates(sources: Sequence[Source]) -> InputBatch:
    """Keep the first of each (kind, location); later repeats go to ``duplicates``."""
    kept: list[Source] = []
    repeats: list[Source] = []
    first: dict[tuple[str, str], int] = {}
    for source in sources:
        if source.kind == "invalid":
            kept.append(source)
            continue
        key = (source.kind, source.location)
        if key in first:
            repeats.append(replace(source, duplicate_of=first[key]))
            continue
        first[key] = len(kept)
        kept.append(source)
    notes = dict.fromkeys(note for source in sources for note in source.notes)
    return InputBatch(tuple(kept), tuple(repeats), tuple(notes))
