"""The contract every ASR engine meets: a 16 kHz mono FLAC chunk in, timed segments out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict, Unpack

from engine.errors import AuthError, ProviderError
from engine.events import EventKind
from engine.segments import Segment

if TYPE_CHECKING:
    from engine.limits.dayquota import DayQuota
    from engine.limits.headers import ServerQuota


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


ProgressFn = Callable[[float], None]
"""Told a job's progress in percent (0-100) while the service works on it."""

Sleep = Callable[[float], None]


class CancelFlag(Protocol):
    """What a long local decode polls between segments (a ``threading.Event``)."""

    def is_set(self) -> bool: ...


class SendOptions(TypedDict, total=False):
    """What the pipeline may pass to ``transcribe`` and ``transcribe_url``; every one is optional.

    An engine reads the ones it has a use for and ignores the others.
    """

    key_index: int
    """Which configured API key to send with (the worker's key in independent mode)."""
    before_send: Callable[[], object] | None
    """Takes the rate-limit permit; called once the request is built, just before it goes out."""
    cancel: CancelFlag | None
    """Set when the item is cancelled: a local decode stops between segments."""
    on_progress: ProgressFn | None
    """Told a submitted job's percent done."""
    resume_id: str | None
    """A job already submitted for this part in an earlier run: poll it, don't submit again."""
    on_submitted: Callable[[str | None], None] | None
    """Told a new job's id the moment the service gives it (None: forget the saved one)."""
    sleep: Sleep
    """How to wait between polls (the job's cancellable sleep); ``time.sleep`` by default."""


class Transcriber(ABC):
    """An ASR engine. Implementations must be safe to call from several threads at once.

    Everything the pipeline and the batch use is declared here with a default, so an engine
    states only what it does differently.
    """

    name: str = ""
    """Short engine name recorded on each item: ``openai``, ``whisper``, ``sphinx``."""

    service: str | None = None
    """Rate-limited service this engine spends (``"asr"``), or None for local engines."""

    max_upload_bytes: int | None = None
    """Largest chunk file the engine accepts, or None when there is no limit."""

    submits_jobs: bool = False
    """True when ``transcribe`` submits a paid job and polls it: the pipeline then passes
    ``resume_id``, ``on_submitted`` and ``sleep``, so a paid job survives a crash."""

    day_quota: DayQuota | None = None
    """A calendar-day quota consulted before each rate-limit permit, when the service has one."""

    on_reply: Callable[[ServerQuota | None], None] | None = None
    """Set by the batch: told what each reply says about the service's quota."""

    on_event: Callable[[EventKind, str], None] | None = None
    """Set by the batch: (kind, text) for the event log."""

    on_balance: Callable[[float], None] | None = None
    """Set by the batch: told a prepaid account's balance each time it is read."""

    @property
    def processes(self) -> int:
        """How many decodes run at once inside the engine (local engines cut chunks to match)."""
        return 1

    @abstractmethod
    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        """Transcribe one chunk; ``language`` None means the engine detects it."""

    def accepts_url(self, url: str) -> bool:
        """Whether the engine fetches ``url`` itself (deAPI's vid2txt): nothing is downloaded."""
        return False

    def transcribe_url(
        self, url: str, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        """Transcribe a URL the engine fetches itself; only called when ``accepts_url`` says so."""
        raise ProviderError(f"{self.name} cannot fetch {url} itself", hint="it is downloaded")

    def resize(self, workers: int) -> None:
        """Follow the engine's worker count (local engines size their pools by it)."""
        return None

    def abort(self) -> None:
        """Stop work in flight now (a stopping batch); running chunks fail as transient."""
        return None

    def close(self) -> None:
        """Let go of connections, processes and models."""
        return None


def required_keys(api_keys: Sequence[str], service: str, variable: str) -> list[str]:
    """The keys a remote engine was given; none is an AuthError saying where keys come from."""
    if not api_keys:
        raise AuthError(
            f"no API key for {service}",
            hint=f"set {variable} or pass --api-key, or choose --asr sphinx to work offline",
        )
    return list(api_keys)


def takes_url(transcriber: object, url: str) -> bool:
    """Whether ``transcriber`` transcribes ``url`` by itself; False for anything but a Transcriber."""
    return isinstance(transcriber, Transcriber) and transcriber.accepts_url(url)
