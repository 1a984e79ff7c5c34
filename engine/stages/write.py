"""Write stage: the transcript document built from an item, written under a name of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import NameTaken, OutputError
from engine.items import Item
from engine.providers.formats import APPROXIMATE
from engine.redact import redact_text
from engine.segments import Segment
from engine.settings import Settings
from engine.stages.checkpoints import Checkpoints

if TYPE_CHECKING:
    from engine.outputs import NameBook, TranscriptDoc

Outputs = dict[str, str]  # format -> the file written, relative to the output folder

# Names tried for one item when its claimed names keep appearing on disk before it writes them.
NAME_ATTEMPTS = 20


class ItemRecord(Protocol):
    """What writing needs of the item's Job: the item as it is now, and a way to record facts on it."""

    @property
    def item(self) -> Item: ...

    def update(self, **facts: Any) -> None: ...


def name_key(item_id: int, location: str) -> str:
    return f"item-{item_id}:{location}"


@dataclass(frozen=True, slots=True)
class Transcribed:
    """An item's transcript and how it was made, as the write stage takes it."""

    segments: tuple[Segment, ...]
    method: str  # "captions" or "asr"
    engine: str | None
    language: str | None
    approximate: bool = False  # text only from the service: timings are the chunks' spans


def transcript_doc(item: Item, meta: Mapping[str, Any], found: Transcribed) -> TranscriptDoc:
    """Everything one note says about an item, its transcript included."""
    from engine.outputs import Chapter, TranscriptDoc

    chapters = tuple(
        Chapter(float(c[0]), float(c[1]) if c[1] is not None else None, str(c[2]))
        for c in meta.get("chapters") or ()
    )
    extras = {str(k): str(v) for k, v in (meta.get("extras") or {}).items()}
    # A spreadsheet's description column is the note's description, not an extra property.
    listed_description = extras.pop("description", None)
    url = meta.get("url") or (item.location if item.kind != "file" else None)
    return TranscriptDoc(
        source=redact_text(item.source),
        url=redact_text(url) if url else None,  # a signed link's token stays out of the note
        title=item.title or item.source,
        channel=meta.get("channel") or meta.get("artist"),
        upload_date=meta.get("upload_date"),
        duration=item.duration,
        method=found.method,
        engine=found.engine,
        language=found.language,
        processed_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        tags=tuple(str(t) for t in meta.get("tags") or ()),
        description=meta.get("description") or listed_description or None,
        show=meta.get("show"),
        date=meta.get("date"),
        episode=meta.get("episode_number"),
        link=meta.get("link"),
        chapters=chapters,
        extras=extras,
        segments=found.segments,
        timing=APPROXIMATE if found.approximate else None,
    )


def write_doc(
    job: ItemRecord,
    item: Item,
    doc: TranscriptDoc,
    *,
    names: NameBook,
    output_dir: Path,
    settings: Settings,
    checkpoints: Checkpoints | None,
) -> dict[str, str]:
    """Write ``doc`` in every chosen format under a stem claimed for the item; format -> path."""
    from engine.outputs import write_outputs

    key = name_key(item.id, item.location)
    for _ in range(NAME_ATTEMPTS):
        stem = names.claim(doc.title, key=key)
        current = job.item
        if current.meta.get("stem") != stem:
            job.update(meta={**current.meta, "stem": stem})
            if checkpoints is not None:
                checkpoints.save_stem(item.id, stem)
        try:
            paths = write_outputs(
                doc,
                output_dir,
                stem,
                settings.formats,
                timestamps=settings.timestamps,
                fresh=not names.owns(key),
            )
        except NameTaken:
            # Someone else's file appeared under this name since the folder was read:
            # leave it alone and take the next free name.
            names.forget(key)
            continue
        names.written(key)
        return {fmt: str(path) for fmt, path in paths.items()}
    raise OutputError(
        f"could not find a free file name for {doc.title!r} in {output_dir}",
        hint="another program keeps creating files there; choose another output folder",
    )
