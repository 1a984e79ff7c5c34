"""ASR tier of the transcript stage: chunks cut, fanned out, checkpointed, stitched; or by URL."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import MediaError, TooLarge
from engine.events import EventKind
from engine.items import Item
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript
from engine.providers.formats import APPROXIMATE
from engine.run.job import Job
from engine.segments import Segment
from engine.service_jobs import ServiceJobs
from engine.settings import Settings
from engine.sources.expand import MEDIA_SERVICE
from engine.stages.checkpoints import Checkpoints

PREVIEW_LINES = 6
# After a 413, chunks are cut to this share of the largest refused upload, at most this many times.
RECHUNK_SHARE = 0.6
RECHUNK_ROUNDS = 4
MIN_CHUNK_SECONDS = 10.0
# A job the service fetches by URL reports percent done: shown as steps of the item's progress.
URL_JOB_STEPS = 100
URL_PART = "url"


@dataclass(frozen=True, slots=True)
class ChunkResult:
    chunk: Chunk
    segments: tuple[Segment, ...]
    language: str | None
    approximate: bool = False  # the service gave text only: timings are the chunk's span


class AsrTier:
    """Shared by every worker of one pipeline: the engine, its checkpoints, its paid jobs."""

    def __init__(
        self, settings: Settings, transcriber: Transcriber, checkpoints: Checkpoints | None
    ) -> None:
        self.settings = settings
        self.transcriber = transcriber
        self.checkpoints = checkpoints
        self._jobs = ServiceJobs(transcriber, checkpoints)

    def transcribe(
        self, job: Job, media: Path, workdir: Path
    ) -> tuple[list[Segment], str | None, bool]:
        """(stitched segments, language, approximate timing) for a media file, chunk by chunk."""
        from engine.audio.media import balanced_chunk_seconds, split_audio
        from engine.stitch import stitch

        job.stage("decode")
        max_bytes = self.transcriber.max_upload_bytes
        chunk_seconds = self.settings.chunk_seconds
        if self.transcriber.service is None:
            # A local engine is CPU-bound: a multiple of its processes in chunks keeps all busy.
            processes = self.transcriber.processes
            chunk_seconds = balanced_chunk_seconds(job.item.duration, chunk_seconds, processes)
        refused: TooLarge | None = None
        rounds = 0
        while True:
            try:
                chunks = split_audio(
                    media, workdir / "chunks", chunk_seconds, self.settings.overlap, max_bytes
                )
            except MediaError:
                if refused is None:
                    raise
                raise refused from None  # cannot cut pieces small enough: the 413 is the cause
            done = dict(self.checkpoints.load(job.item_id)) if self.checkpoints else {}
            reusable = sum(1 for c in chunks if c.index in done and _same_span(done[c.index], c))
            job.stage("transcribe", chunks_total=len(chunks), chunks_done=reusable)
            try:
                results = job.map(functools.partial(self.chunk, done=done), chunks, "chunk")
                break
            except TooLarge as exc:
                # The service's real limit is below what we sent (self-hosted servers and proxies
                # often allow less than they claim): cut below the largest upload it refused.
                rounds += 1
                if rounds > RECHUNK_ROUNDS:
                    raise
                refused = exc
                largest = max(chunk.path.stat().st_size for chunk in chunks)
                max_bytes = int(min(max_bytes or largest, largest) * RECHUNK_SHARE)
                chunk_seconds = max(MIN_CHUNK_SECONDS, chunk_seconds / 2)
                job.note(
                    EventKind.RECHUNK,
                    f"chunk too large for the service; retrying with chunks under "
                    f"{max_bytes / 1024:.0f} KB",
                )
                if self.checkpoints is not None:
                    self.checkpoints.drop(job.item_id)
        languages = [r.language for r in results if r.language]
        stitched = stitch([(r.chunk, r.segments) for r in results], self.settings.overlap)
        approximate = any(r.approximate for r in results)
        return stitched, (languages[0] if languages else None), approximate

    def transcribe_url(self, job: Job, item: Item) -> tuple[list[Segment], str | None]:
        """The engine fetches the item's URL itself: no download, no chunks."""
        job.stage("transcribe", chunks_total=URL_JOB_STEPS, chunks_done=0)
        service = self.transcriber.service or MEDIA_SERVICE
        language = self.settings.languages[0] if self.settings.languages else None
        transcript = self.transcriber.transcribe_url(
            item.location,
            language,
            key_index=job.key_index(service),
            before_send=lambda: self._jobs.permit(job, service),
            on_progress=lambda percent: job.update(chunks_done=int(percent)),
            **self._jobs.hooks(job, URL_PART),
        )
        job.update(chunks_done=URL_JOB_STEPS)
        if transcript.segments:
            job.update(preview=preview(transcript.segments))
        return list(transcript.segments), transcript.language

    def chunk(self, job: Job, chunk: Chunk, *, done: Mapping[int, Any]) -> ChunkResult:
        """One chunk: its checkpoint when it has one, else the engine's transcript of it."""
        saved = done.get(chunk.index)
        if saved is not None and _same_span(saved, chunk):
            return ChunkResult(chunk, tuple(saved[2]), saved[3])
        # Caption preferences are not a statement about the audio: the service detects the
        # language unless one was asked for.
        transcript = self._send(job, chunk, self.settings.asr_language)
        if self.checkpoints is not None:
            self.checkpoints.save(job.item_id, chunk, transcript.segments, transcript.language)
        job.advance_chunks()
        if transcript.segments:
            job.update(preview=preview(transcript.segments))
        approximate = transcript.extra.get("timing") == APPROXIMATE
        return ChunkResult(chunk, tuple(transcript.segments), transcript.language, approximate)

    def _send(self, job: Job, chunk: Chunk, language: str | None) -> Transcript:
        service = self.transcriber.service
        options: SendOptions
        hooks: dict[str, Any] = {}
        if service is None:
            # A local decode can take minutes; an engine that can stops it between segments.
            job.check()
            options = {"cancel": job.cancel_event}
        elif self.transcriber.submits_jobs:
            part = f"chunk-{chunk.index}@{chunk.start:.2f}-{chunk.end:.2f}"
            options = {
                "key_index": job.key_index(service),
                "before_send": lambda: self._jobs.permit(job, service),
            }
            hooks = self._jobs.hooks(job, part)  # resume_id, on_submitted, sleep
        else:
            # The permit is taken inside, once the request is built and ready to go out.
            options = {
                "key_index": job.key_index(service),
                "before_send": lambda: job.acquire(service),
            }
        return self.transcriber.transcribe(chunk, language, **options, **hooks)


def preview(segments: Sequence[Segment]) -> tuple[str, ...]:
    """The last few lines of text, shown while an item runs."""
    return tuple(s.text for s in segments[-PREVIEW_LINES:] if s.text)


def _same_span(saved: tuple[float, float, Any, Any], chunk: Chunk) -> bool:
    return abs(saved[0] - chunk.start) < 0.01 and abs(saved[1] - chunk.end) < 0.01
