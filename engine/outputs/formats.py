"""Render a transcript in each output format and write the files for one item."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from engine.errors import NameTaken, OutputError
from engine.outputs.atomic import atomic_write, ensure_folder
from engine.outputs.cues import render_srt, render_vtt
from engine.outputs.document import TranscriptDoc, paragraphs
from engine.outputs.markdown import render_markdown
from engine.outputs.names import inside
from engine.outputs.no_speech import has_speech, render_no_speech
from engine.outputs.timecodes import stamp

FORMATS = ("md", "txt", "srt", "vtt", "json")


def _seconds(value: float | None) -> float | None:
    return float(round(value, 3)) if value is not None and math.isfinite(value) else None


def render_txt(doc: TranscriptDoc, *, timestamps: bool = False) -> str:
    """Plain paragraphs separated by blank lines, optionally starting with their time."""
    long_form = doc.length() >= 3600
    lines = [
        f"{stamp(p.start, long_form=long_form)} {p.text}" if timestamps else p.text
        for p in paragraphs(doc)
    ]
    return "\n\n".join(lines) + "\n" if lines else ""


def render_json(doc: TranscriptDoc) -> str:
    """Metadata and timed segments, for programs."""
    data = {
        "title": doc.title,
        "source": doc.source,
        "url": doc.url,
        "language": doc.language,
        "duration": _seconds(doc.duration),
        "method": doc.method,
        "engine": doc.engine,
        **({"timing": doc.timing} if doc.timing else {}),
        "segments": [
            {"start": _seconds(s.start), "end": _seconds(s.end), "text": s.text.strip()}
            for s in doc.segments
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render(doc: TranscriptDoc, fmt: str, *, timestamps: bool = False) -> str:
    """The file content of doc in one of FORMATS."""
    if fmt == "md":
        return render_markdown(doc, timestamps=timestamps)
    if fmt == "txt":
        return render_txt(doc, timestamps=timestamps)
    if fmt == "srt":
        return render_srt(doc.segments)
    if fmt == "vtt":
        return render_vtt(doc.segments)
    if fmt == "json":
        return render_json(doc)
    raise OutputError(f"unknown output format: {fmt}", hint=f"choose from {', '.join(FORMATS)}")


def write_outputs(
    doc: TranscriptDoc,
    folder: Path,
    stem: str,
    formats: Sequence[str],
    *,
    timestamps: bool = False,
    fresh: bool = False,
) -> dict[str, Path]:
    """Write <folder>/<stem>.<fmt> atomically for each format; returns format -> path written.

    A transcript without a word in it gets one Markdown note saying so, instead of empty files.
    ``fresh``: the stem is newly claimed, so no file of it may exist; if one appears meanwhile
    (another writer), NameTaken is raised, replacing nothing. On any failure of a fresh write,
    what this call wrote is removed again.
    """
    wanted = list(dict.fromkeys(formats))
    unknown = [fmt for fmt in wanted if fmt not in FORMATS]
    if unknown:
        raise OutputError(
            f"unknown output format: {', '.join(unknown)}", hint=f"choose from {', '.join(FORMATS)}"
        )
    if stem in ("", ".", "..") or any(ch in stem for ch in "/\\\0"):
        raise OutputError(f"unsafe file name: {stem!r}", hint="names come from safe_stem()")
    folder = Path(folder)
    ensure_folder(folder)
    if not has_speech(doc.segments):
        note = inside(folder, Path(f"{stem}.md"))
        atomic_write(note, render_no_speech(doc), replace=not fresh)
        return {"md": note}
    # Check every path before writing any, so a bad stem leaves nothing behind.
    paths = {fmt: inside(folder, Path(f"{stem}.{fmt}")) for fmt in wanted}
    written: list[Path] = []
    try:
        for fmt, path in paths.items():
            atomic_write(path, render(doc, fmt, timestamps=timestamps), replace=not fresh)
            written.append(path)
    except (NameTaken, OutputError):
        if fresh:
            # New files only: a half set (disk full at the third format) must not hold the name
            # against the retry, which would then see "its" name taken and leave these orphaned.
            for path in written:
                path.unlink(missing_ok=True)
        raise
    return paths
