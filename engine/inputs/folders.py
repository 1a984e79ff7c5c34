"""Find the audio and video files in a folder tree, in a stable order."""

from __future__ import annotations

import os
from pathlib import Path

from engine.inputs.classify import MEDIA_EXTENSIONS
from engine.inputs.source import Place, Source, entry_source, invalid_source


def media_files(folder: Path) -> tuple[list[Path], list[OSError]]:
    """Media files under ``folder`` (hidden files and folders skipped), and the folders we could not read."""
    found: list[Path] = []
    problems: list[OSError] = []
    # Symlinked folders are not entered (os.walk default), so a link loop cannot trap the scan.
    for root, dirs, files in os.walk(folder, onerror=problems.append):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(root, name)
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS
        )
    # Case-insensitive, folder by folder, so "b/x.mp3" follows "a/z.mp3" and "Intro" sits beside "intro".
    found.sort(key=lambda p: [(part.casefold(), part) for part in p.relative_to(folder).parts])
    return found, problems


def folder_sources(folder: Path, place: Place, label: str) -> list[Source]:
    """One file source per media file; an invalid source for each unreadable or empty folder."""
    files, problems = media_files(folder)
    sources = [entry_source(str(path), place, None) for path in files]
    for problem in problems:
        where = problem.filename or label
        reason = problem.strerror or str(problem)
        sources.append(
            invalid_source(str(where), place, None, f"cannot read folder {where}: {reason}")
        )
    if not files and not problems:
        kinds = " ".join(sorted(MEDIA_EXTENSIONS))
        reason = f"no audio or video files found in folder {label} (looked for {kinds})"
        sources.append(invalid_source(label, place, None, reason))
    return sources
