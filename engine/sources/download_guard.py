"""Bounds on a yt-dlp download: a size cap and a reserve of free disk space that it may not eat.

yt-dlp's own ``max_filesize`` only looks at a declared Content-Length, so a server that streams
without one (or lies about it) could fill the disk. Its progress hooks run after every block it
writes; an exception raised in one stops the download there, and the partial file is removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import OutputError, SourceError
from engine.http_bounds import MB

# A ten-hour podcast at 128 kb/s is about 580 MB; a two-hour film with no audio-only format ~4 GB.
DEFAULT_MAX_MB = 4096
DISK_RESERVE_BYTES = 512 * MB  # left free for the decoded chunks, the session and the outputs


class DownloadTooLarge(SourceError):
    """The media is larger than the download limit; the download stopped at the limit."""


def size_text(count: float) -> str:
    return f"{count / MB / 1024:.1f} GB" if count >= 1024 * MB else f"{count / MB:.0f} MB"


def download_guard(workdir: Path, max_bytes: int) -> Callable[[dict[str, Any]], None]:
    """A progress hook that stops the download over ``max_bytes`` or when the disk runs low."""

    def check(progress: dict[str, Any]) -> None:
        if progress.get("status") != "downloading":
            return
        done = int(progress.get("downloaded_bytes") or 0)
        declared = progress.get("total_bytes")
        if done > max_bytes or (declared is not None and int(declared) > max_bytes):
            size = f"its server declares {size_text(int(declared))}; " if declared else ""
            raise DownloadTooLarge(
                f"the media is larger than the {size_text(max_bytes)} download limit "
                f"({size}stopped after {size_text(done)})",
                hint="raise max_download_mb in config.toml if the file is really this large",
            )
        if shutil.disk_usage(workdir).free < DISK_RESERVE_BYTES:
            raise OutputError(
                f"the disk holding {workdir} has under {size_text(DISK_RESERVE_BYTES)} free; "
                "the download stopped",
                hint="free some space (or set TMPDIR to a larger disk) and retry the item",
            )

    return check


def remove_partial(workdir: Path) -> None:
    """Delete what an interrupted download left in ``workdir`` (yt-dlp's .part and .ytdl files)."""
    for leftover in list(workdir.glob("*.part")) + list(workdir.glob("*.ytdl")):
        leftover.unlink(missing_ok=True)
