"""The contract every ASR engine meets: a 16 kHz mono FLAC chunk in, timed segments out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from engine.segments import Segment


@dataclass(frozen=True, slots=True)
class Chunk:
    """A slice of an item's audio, written to disk as 16 kHz mono FLAC.

    ``start`` and ``end`` are seconds in the source media; ``index`` counts from 0.
    """

    index: int
    start: float
    end: float
    path: Path

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Transcript:
    """What an engine returns for one chunk; segment times are relative to the chunk start."""

    segments: tuple[Segment, ...]
    language: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class Transcriber(Protocol):
    """An ASR engine. Implementations must be safe to call from several threads at once."""

    name: str
    """Short engine name recorded on each item: ``openai``, ``whisper``, ``sphinx``."""

    service: str | None
    """Rate-limited service this engine spends (``"asr"``), or None for local engines."""

    max_upload_bytes: int | None
    """Largest chunk file the engine accepts, or None when there is no limit."""

    def transcribe(self, chunk: Chunk, language: str | None = None) -> Transcript: ...

    # Optional, read with getattr by the pipeline (engines without them behave as before):
    # ``submits_jobs = True``: ``transcribe`` also takes ``resume_id``, ``on_submitted`` and
    #     ``sleep`` as ``UrlTranscriber.transcribe_url`` does, so a paid job survives a crash.
    # ``day_quota``: an engine.dayquota.DayQuota consulted before each rate-limit permit.


ProgressFn = Callable[[float], None]
"""Told a job's progress in percent (0-100) while the service works on it."""


class UrlTranscriber(Protocol):
    """An engine that can fetch some URLs itself (deAPI's vid2txt): nothing is downloaded here.

    Optional: engines without ``accepts_url`` take every item as audio chunks; see ``takes_url``.
    ``resume_id`` is a job already submitted for this URL in an earlier run (poll it, don't
    submit again); ``on_submitted`` is told a new job's id the moment the service gives it.
    """

    def accepts_url(self, url: str) -> bool: ...

    def transcribe_url(
        self,
        url: str,
        language: str | None = None,
        *,
        before_send: Callable[[], object] | None = None,
        on_progress: ProgressFn | None = None,
        resume_id: str | None = None,
        on_submitted: Callable[[str | None], None] | None = None,
    ) -> Transcript: ...


def takes_url(transcriber: object, url: str) -> bool:
    """Whether ``transcriber`` transcribes ``url`` by itself; False for engines without the ability."""
    accepts = getattr(transcriber, "accepts_url", None)
    return bool(accepts(url)) if callable(accepts) else False
