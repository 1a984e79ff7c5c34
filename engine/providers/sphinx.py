"""Offline English ASR with pocketsphinx's bundled model, decoded in worker processes.

pocketsphinx holds the GIL while it decodes (two threads run no faster than one,
see bench/local_asr.py), and a long decode in the app's process would freeze the
terminal UI. So each decode runs in a worker process with its own Decoder.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import numpy as np

from engine import errors
from engine.audio.decode import read_pcm
from engine.audio.quiet import speech_spans
from engine.errors import BulkscribeError, ProviderError
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript
from engine.segments import Segment, Word

if TYPE_CHECKING:
    from pocketsphinx import Decoder

_RATE = 16000
_MAX_UTTERANCE_SECONDS = 30.0  # longer speech runs are decoded in pieces to bound memory


_local = threading.local()


def _decoder() -> Decoder:
    """This thread's (or process's) Decoder; Decoders must never be shared."""
    decoder = getattr(_local, "decoder", None)
    if decoder is None:
        from pocketsphinx import Decoder

        decoder = _local.decoder = Decoder(loglevel="FATAL")
    return decoder


def _clean(word: str) -> str | None:
    """Spoken word from a pocketsphinx token, or None for silence, noise and sentence marks."""
    if word.startswith(("<", "[", "+")):
        return None
    return word.split("(", 1)[0] or None


def _decode_utterance(decoder: Decoder, pcm: bytes, offset: float) -> list[Word]:
    # Batch cepstral mean normalisation: each utterance is normalised by its own mean, so it
    # decodes the same whichever chunk or utterance came before. After its first utterance the
    # decoder falls back to live normalisation for good (end_utt feeds a last frame through the
    # live path), which normalises a short utterance by the mean it was given, not its own;
    # resetting the feature module (0.1 ms) restores batch mode.
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    rate = float(decoder.config["frate"])
    words = []
    for seg in decoder.seg():
        text = _clean(seg.word)
        if text:
            words.append(
                Word(offset + seg.start_frame / rate, offset + (seg.end_frame + 1) / rate, text)
            )
    return words


def decode_words(path: Path | str) -> list[Word]:
    """Recognise the words in an audio file, timed from its start.

    Each stretch of speech between pauses is decoded as one utterance (at most 30 s, so
    memory stays flat on long chunks). The stretches are found from the audio's energy,
    the way chunks are cut, so a passage decodes alike whether or not it was chunked.
    """
    pcm = read_pcm(path)
    decoder = _decoder()
    samples = np.frombuffer(pcm, dtype=np.int16)
    words: list[Word] = []
    for start, end in speech_spans(samples, _RATE, longest=_MAX_UTTERANCE_SECONDS):
        words.extend(_decode_utterance(decoder, pcm[start * 2 : end * 2], start / _RATE))
    return words


def group_words(words: list[Word], pause: float = 0.5, longest: float = 10.0) -> list[Segment]:
    """Sentence-sized segments, each carrying its words: a new one starts after a pause or once
    one grows past ``longest``."""
    groups: list[list[Word]] = []
    for word in words:
        if groups and (
            word.start - groups[-1][-1].end >= pause or word.end - groups[-1][0].start > longest
        ):
            groups.append([])
        if not groups:
            groups.append([])
        groups[-1].append(word)
    return [
        Segment(group[0].start, group[-1].end, " ".join(w.text for w in group), tuple(group))
        for group in groups
    ]


WordRow = tuple[float, float, str]
Rows = list[tuple[float, float, str, tuple[WordRow, ...]]]
Failure = tuple[str, str, str, bool]


def _transcribe_file(path: str) -> tuple[Rows, Failure | None]:
    """Worker-process entry: segment rows, or the error as (class name, message, hint, transient).

    Errors travel as plain tuples because our exceptions lose their hint when pickled.
    """
    try:
        segments = group_words(decode_words(path))
    except BulkscribeError as exc:
        return [], (type(exc).__name__, exc.message, exc.hint, exc.transient)
    rows = [
        (s.start, s.end, s.text, tuple((w.start, w.end, w.text) for w in s.words)) for s in segments
    ]
    return rows, None


# Ctrl-C and a closed terminal signal the whole foreground process group, the workers too.
_STOP_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _warm_up() -> None:
    # The parent decides what a stop means (items back to the queue, a manifest, a resume hint);
    # a worker that took the signal itself sent back KeyboardInterrupt and failed its item.
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    _decoder()  # load the model once per worker, before the first chunk waits on it


class SphinxTranscriber(Transcriber):
    """pocketsphinx as a Transcriber: safe from many threads, decoding in a pool of processes.

    The pool starts on first use, holds one process (and one Decoder) per worker
    up to the number of CPUs, follows ``resize``, and stops on ``close``. With
    ``in_process=True`` decoding runs in the calling thread instead (one Decoder
    per thread); that is only sensible for tests and the benchmark.
    """

    name = "sphinx"
    service: str | None = None
    max_upload_bytes: int | None = None

    def __init__(self, workers: int = 1, *, in_process: bool = False) -> None:
        self.in_process = in_process
        self._workers = max(1, workers)
        self._pool: Executor | None = None
        self._lock = threading.Lock()
        if not in_process:
            # Start multiprocessing's resource tracker now, while stderr is a real file. The first
            # spawn otherwise starts it and hands it sys.stderr's descriptor; under the full-screen
            # app stderr is a capture object whose fileno() is -1, and every chunk failed with
            # "bad value(s) in fds_to_keep".
            # The tracker ignores SIGINT and SIGTERM itself but dies of the SIGHUP a closing
            # terminal sends the group; the one started in its place then fails on every
            # semaphore it never saw. Spawned with HUP blocked, it keeps HUP blocked.
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            try:
                resource_tracker.ensure_running()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    @property
    def processes(self) -> int:
        """How many decoding processes the pool runs (workers, capped at the CPU count)."""
        return max(1, min(self._workers, os.cpu_count() or 1))

    def resize(self, workers: int) -> None:
        """Follow the engine's worker count; chunks already submitted still finish."""
        with self._lock:
            old = self._pool
            changed = max(1, min(max(1, workers), os.cpu_count() or 1)) != self.processes
            self._workers = max(1, workers)
            if old is not None and changed:
                self._pool = None
                old.shutdown(wait=False)

    def _executor(self) -> Executor:
        with self._lock:
            if self._pool is None:
                # spawn: a forked child would inherit the app's threads and locks mid-flight.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=context, initializer=_warm_up
                )
            return self._pool

    def _submit(self, path: str) -> Future[tuple[Rows, Failure | None]]:
        # A spawned process starts with the signal mask of the thread that spawns it, and submit
        # is where the pool spawns. With the stop signals blocked here, a Ctrl-C that arrives
        # while a worker is still starting cannot reach it before _warm_up ignores it for good.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            return self._executor().submit(_transcribe_file, path)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        if language and not language.lower().startswith("en"):
            raise ProviderError(
                f"sphinx only knows English, not {language!r}",
                hint="use --asr whisper or --asr openai for other languages",
            )
        if self.in_process:
            rows, failure = _transcribe_file(str(chunk.path))
        else:
            try:
                future = self._submit(str(chunk.path))
                rows, failure = future.result()
            except BrokenProcessPool as exc:
                with self._lock:
                    broken, self._pool = self._pool, None  # start a fresh pool next time
                if broken is not None:
                    broken.shutdown(wait=False, cancel_futures=True)
                raise ProviderError(
                    "a sphinx worker process died",
                    hint="it may have run out of memory; trying again may help",
                    transient=True,
                ) from exc
        if failure is not None:
            kind, message, hint, transient = failure
            raise getattr(errors, kind, BulkscribeError)(message, hint=hint, transient=transient)
        segments = tuple(
            Segment(start, end, text, tuple(Word(*word) for word in words))
            for start, end, text, words in rows
        )
        return Transcript(segments, language="en", extra={"model": "pocketsphinx en-us"})

    def abort(self) -> None:
        """Stop decoding now: running chunks fail as transient, so a stopping engine requeues them."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        # The executor has no public way to stop a running call; its processes are the way.
        workers = list(dict(getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.kill()  # SIGKILL: the workers ignore SIGTERM (see _warm_up)

    def close(self) -> None:
        """Stop the worker processes (waits for chunks already running)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SphinxTranscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
