"""A quiet yt-dlp session: no terminal output, files only in a work folder, typed errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import YoutubeDLError

from engine.errors import BulkscribeError, InputError
from engine.sources.source_errors import source_error

_log = logging.getLogger("engine.sources.remote")


class _CollectingLogger:
    """Takes yt-dlp's messages so nothing reaches the terminal; they go to our debug log."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def _keep(self, message: str) -> None:
        _log.debug("yt-dlp: %s", message)
        if len(self.messages) < 500:  # a long playlist must not grow this without bound
            self.messages.append(message)

    debug = info = warning = error = _keep


@contextmanager
def ytdl_session(
    *, timeout: float, cookies: Path | None, workdir: Path | None = None, **extra: Any
) -> Iterator[yt_dlp.YoutubeDL]:
    """A quiet YoutubeDL that writes nowhere except ``workdir``; its errors become SourceError."""
    options: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _CollectingLogger(),
        "socket_timeout": timeout,
        "cachedir": False,
        "ignoreconfig": True,
        "color": "no_color",
        "consoletitle": False,
        "updatetime": False,
        "retries": 2,
        "fragment_retries": 2,
        "extractor_retries": 1,
        "file_access_retries": 1,
        "skip_download": workdir is None,
        **extra,
    }
    if workdir is not None:
        options["paths"] = {"home": str(workdir), "temp": str(workdir)}
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            if cookies is not None:
                _load_cookies(ydl, Path(cookies))
            yield ydl
    except BulkscribeError:
        raise
    except YoutubeDLError as exc:
        raise source_error(exc) from exc


def _load_cookies(ydl: yt_dlp.YoutubeDL, cookies: Path) -> None:
    # Loaded into the jar rather than passed as ``cookiefile``: yt-dlp rewrites a cookie
    # file on close, and the user's browser export must stay untouched.
    try:
        ydl.cookiejar.load(str(cookies))
    except FileNotFoundError as exc:
        raise InputError(f"cookies file not found: {cookies}") from exc
    except OSError as exc:  # http.cookiejar.LoadError is an OSError
        raise InputError(
            f"cookies file is not a Netscape cookies.txt: {cookies}",
            hint="export it with a browser extension that writes cookies.txt",
        ) from exc
