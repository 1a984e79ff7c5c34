"""Local Whisper ASR through faster-whisper, an optional extra that is imported only when used."""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any, Unpack

from engine.errors import Cancelled, ProviderError
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript
from engine.providers.whisper_models import (
    INSTALL_HINT,
    Located,
    locate,
    locate_local,
    not_available,
    offline_requested,
    probe_hub,
)
from engine.segments import Segment, Word

__all__ = ["WhisperTranscriber", "default_threads", "offline_requested", "whisper_available"]


def _installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def _missing() -> ProviderError:
    return ProviderError("faster-whisper is not installed", hint=INSTALL_HINT, transient=False)


def whisper_available(model: str = "small") -> bool:
    """True when faster-whisper is installed and ``model`` is on disk, so nothing needs fetching."""
    if not _installed():
        return False
    try:
        return locate_local(model) is not None
    except ProviderError:
        return False


def default_threads(workers: int) -> int:
    """CTranslate2 threads per decode: the cores shared out among the decodes running at once.

    bench/local_asr.py measured both ways on 2 cores (docs/performance.md): one decode with
    two threads and two decodes with one thread each finish a batch in about the same time,
    while more threads than cores in total only adds contention.
    """
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def language_code(language: str | None) -> str | None:
    """Whisper's code for a language tag (``en-US`` -> ``en``); None lets Whisper detect it."""
    if not language:
        return None
    code = language.replace("_", "-").split("-")[0].strip().lower()
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if code not in _LANGUAGE_CODES:
        raise ProviderError(
            f"Whisper does not know the language {language!r}",
            hint="use a code such as en, de or fr in --lang, or leave it out to detect it",
            transient=False,
        )
    return code


class WhisperTranscriber(Transcriber):
    """faster-whisper as a Transcriber; the model loads on first use and is shared by all threads.

    CTranslate2 releases the GIL and runs ``workers`` decodes in parallel (its
    ``num_workers``), each with ``cpu_threads`` threads, so one model object serves
    every worker thread and is never reloaded per item.
    """

    name = "whisper"
    service: str | None = None
    max_upload_bytes: int | None = None

    def __init__(
        self,
        model: str = "small",
        device: str = "cpu",
        compute_type: str = "int8",
        *,
        workers: int = 1,
        cpu_threads: int | None = None,
        offline: bool | None = None,
        vad_filter: bool = True,
        beam_size: int = 5,
        cache_dir: str | None = None,
    ) -> None:
        if not _installed():
            raise _missing()
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.workers = max(1, workers)
        self.cpu_threads = cpu_threads
        self.offline = offline_requested() if offline is None else offline
        self.vad_filter = vad_filter
        self.beam_size = beam_size
        self.cache_dir = cache_dir
        self.located: Located | None = None
        self.loads = 0  # how many times the model was read from disk (once per transcriber)
        self._model: Any = None
        self._lock = threading.Lock()

    def check(self) -> str:
        """Say where the model will come from, or raise the one clear error if it cannot come.

        Called before a run starts, so a missing model is a message at start-up rather than
        every item failing (or the first one hanging on an unreachable Hub).
        """
        found = locate_local(self.model, self.cache_dir)
        if found is not None:
            self.located = found
            return f"{found.how} {found.path}"
        if self.offline:
            raise not_available(self.model, "it is not on this computer and downloads are off")
        probe_hub(self.model)
        return "download on first use"

    @property
    def threads(self) -> int:
        return self.cpu_threads or default_threads(self.workers)

    def resize(self, workers: int) -> None:
        """Follow the engine's worker count until the model is loaded (it is fixed after that)."""
        with self._lock:
            if self._model is None:
                self.workers = max(1, workers)

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError as exc:
                    raise _missing() from exc
                if self.located is None:
                    self.located = locate(
                        self.model, download=not self.offline, cache_dir=self.cache_dir
                    )
                try:
                    self._model = WhisperModel(
                        self.located.path,
                        device=self.device,
                        compute_type=self.compute_type,
                        cpu_threads=self.threads,
                        num_workers=self.workers,
                        local_files_only=True,
                    )
                except (OSError, ValueError, RuntimeError) as exc:
                    raise ProviderError(
                        f"cannot load Whisper model from {self.located.path}: {exc}",
                        hint="check the folder and --whisper-model, or use another model",
                        transient=False,
                    ) from exc
                self.loads += 1
            return self._model

    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        """Decode one chunk; ``cancel`` (in ``options``) stops it between segments."""
        cancel = options.get("cancel")
        code = language_code(language)
        model = self._loaded()
        segments: list[Segment] = []
        try:
            # The segments are decoded lazily, one 30 s window at a time: checking ``cancel``
            # between them stops a long chunk within a window instead of at its end.
            pieces, info = model.transcribe(
                str(chunk.path),
                language=code,
                beam_size=self.beam_size,
                vad_filter=self.vad_filter,
                word_timestamps=True,
            )
            for piece in pieces:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                text = piece.text.strip()
                if text:
                    segments.append(_segment(piece, text))
        except (RuntimeError, ValueError) as exc:
            raise ProviderError(f"whisper failed on chunk {chunk.index}: {exc}") from exc
        return Transcript(
            tuple(segments),
            language=getattr(info, "language", code),
            extra={
                "model": self.model,
                "language_probability": getattr(info, "language_probability", None),
            },
        )

    def close(self) -> None:
        """Let go of the model (its memory returns once no decode still holds it)."""
        with self._lock:
            self._model = None


def _segment(piece: Any, text: str) -> Segment:
    words = tuple(
        Word(float(w.start), float(w.end), w.word.strip())
        for w in piece.words or ()
        if w.word.strip()
    )
    return Segment(float(piece.start), float(piece.end), text, words)
