"""One item's journey: resolve, metadata, transcript (captions first, then ASR in chunks), write.

The pipeline is the engine's work function. It knows nothing of screens or sessions: durable chunk
checkpoints come in through the small ``Checkpoints`` protocol.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from engine.errors import InputError, MediaError, TooLarge
from engine.items import Item, State
from engine.job import Job
from engine.providers.base import Chunk, Transcriber
from engine.redact import has_masked_secret, redact_text
from engine.segments import Segment
from engine.settings import Settings
from engine.storable import shown

MEDIA_SERVICE = "media"
PREVIEW_LINES = 6
# After a 413, chunks are cut to this share of the largest refused upload, at most this many times.
RECHUNK_SHARE = 0.6
RECHUNK_ROUNDS = 4
MIN_CHUNK_SECONDS = 10.0


class Checkpoints(Protocol):
    """Where finished chunks are kept so a resumed item continues from its last finished chunk."""

    def load(
        self, item_id: int
    ) -> Mapping[int, tuple[float, float, list[Segment], str | None]]: ...

    def save(
        self, item_id: int, chunk: Chunk, segments: Sequence[Segment], language: str | None
    ) -> None: ...

    def drop(self, item_id: int) -> None: ...

    def save_stem(self, item_id: int, stem: str) -> None:
        """Keep the file-name stem given to an item, so a redo after a crash reuses it."""
        ...


@dataclass(frozen=True, slots=True)
class ChunkResult:
    chunk: Chunk
    segments: tuple[Segment, ...]
    language: str | None


class Pipeline:
    """The work function: ``pipeline(job)`` turns one queued item into transcript files."""

    def __init__(
        self,
        settings: Settings,
        output_dir: Path,
        transcriber: Transcriber,
        *,
        checkpoints: Checkpoints | None = None,
        temp_root: Path | None = None,
        stems: Mapping[int, tuple[str, str]] | None = None,
    ) -> None:
        from engine.outputs import NameBook

        self.settings = settings
        self.output_dir = output_dir
        self.transcriber = transcriber
        self.checkpoints = checkpoints
        self.temp_root = temp_root
        # Stems given out in an earlier run of this session (item id -> (location, stem)).
        claimed = {name_key(i, loc): stem for i, (loc, stem) in (stems or {}).items()}
        self.names = NameBook(output_dir, claimed=claimed)
        self._lock = threading.Lock()
        self.engine_add: Any = None  # set by the runner: queues items found in playlists

    def __call__(self, job: Job) -> None:
        item = job.item
        if item.kind == "invalid":
            item = self._reclassify(job, item)
        if item.kind == "playlist":
            self._expand(job, item)
            return
        workdir = Path(tempfile.mkdtemp(prefix="bulkscribe-", dir=self.temp_root))
        try:
            self._run(job, item, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- stages ---------------------------------------------------------------------------------

    def _run(self, job: Job, item: Item, workdir: Path) -> None:
        if item.kind != "file" and has_masked_secret(item.location):
            # Secrets are never stored, so a signed link read back from the session has lost its
            # token; fetching it would only earn a 403 from the host.
            raise InputError(
                "this link's secret (a token in it) is not kept between runs",
                hint="add the link again to this session: bulkscribe --resume ID 'LINK'",
            )
        job.stage("metadata")
        meta, info, media_path = self._metadata(job, item)
        if info is not None and info.is_playlist:
            # A podcast feed or a page of videos: each entry becomes an item of its own.
            self._expand(job, job.item)
            return
        segments: list[Segment] = []
        language = None
        method = engine_name = None
        if info is not None and self.settings.captions:
            job.stage("captions")
            from engine.remote import fetch_captions

            job.acquire(MEDIA_SERVICE)
            found = fetch_captions(info, self.settings.languages, cookies=self._cookies())
            if found is not None and found.segments:
                segments, language = list(found.segments), found.language
                method, engine_name = "captions", f"{found.kind} captions"
        if not segments:
            if media_path is None:
                job.stage("download")
                from engine.remote import download_audio

                job.acquire(MEDIA_SERVICE)
                media_path = download_audio(
                    item.location, workdir / "download", cookies=self._cookies()
                )
            segments, language = self._transcribe(job, media_path, workdir)
            method, engine_name = "asr", self.transcriber.name
        job.stage("write", method=method, engine=engine_name, language=language)
        outputs = self._write(job, job.item, meta, segments, method or "asr", engine_name, language)
        job.update(outputs=outputs, preview=_preview(segments))

    def _metadata(self, job: Job, item: Item) -> tuple[dict[str, Any], Any, Path | None]:
        meta: dict[str, Any] = dict(item.meta)
        if item.kind == "file":
            from engine.media import probe

            path = Path(item.location)
            media = probe(path)
            if not media.has_audio:
                raise MediaError(
                    f"no audio track in {path.name}", hint="the file has only video or data"
                )
            title = shown(item.title or media.title or path.stem)
            meta.setdefault("artist", media.artist)
            job.update(title=title, duration=media.duration, meta=_clean(meta))
            return meta, None, path
        from engine.remote import fetch_info

        job.acquire(MEDIA_SERVICE)
        info = fetch_info(item.location, cookies=self._cookies())
        extras = meta.get("extras") or {}
        meta.update(
            {
                "url": info.webpage_url or item.location,
                "channel": info.channel,
                "upload_date": info.upload_date,
                # Spreadsheet values win over fetched ones.
                "description": extras.get("description") or info.description,
                "tags": list(info.tags or ()),
                "view_count": info.view_count,
                "thumbnail": info.thumbnail,
                "chapters": [list(c) for c in info.chapters or ()],
                "extractor": info.extractor,
            }
        )
        job.update(
            title=item.title or info.title or item.source, duration=info.duration, meta=_clean(meta)
        )
        return meta, info, None

    def _transcribe(self, job: Job, media: Path, workdir: Path) -> tuple[list[Segment], str | None]:
        from engine.media import split_audio
        from engine.stitch import stitch

        job.stage("decode")
        max_bytes = self.transcriber.max_upload_bytes
        chunk_seconds = self.settings.chunk_seconds
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
                results = job.map(functools.partial(self._chunk, done=done), chunks, "chunk")
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
                    "rechunk",
                    f"chunk too large for the service; retrying with chunks under "
                    f"{max_bytes / 1024:.0f} KB",
                )
                if self.checkpoints is not None:
                    self.checkpoints.drop(job.item_id)
        languages = [r.language for r in results if r.language]
        stitched = stitch([(r.chunk, r.segments) for r in results], self.settings.overlap)
        return stitched, (languages[0] if languages else None)

    def _chunk(self, job: Job, chunk: Chunk, *, done: Mapping[int, Any]) -> ChunkResult:
        saved = done.get(chunk.index)
        if saved is not None and _same_span(saved, chunk):
            return ChunkResult(chunk, tuple(saved[2]), saved[3])
        language = self.settings.languages[0] if self.settings.languages else None
        service = self.transcriber.service
        if service is not None:
            # The permit is taken inside, once the request is built and ready to go out.
            transcript = self.transcriber.transcribe(  # type: ignore[call-arg]
                chunk,
                language,
                key_index=job.key_index(service),
                before_send=lambda: job.acquire(service),
            )
        else:
            job.check()
            transcript = self.transcriber.transcribe(chunk, language)
        if self.checkpoints is not None:
            self.checkpoints.save(job.item_id, chunk, transcript.segments, transcript.language)
        job.advance_chunks()
        if transcript.segments:
            job.update(preview=_preview(transcript.segments))
        return ChunkResult(chunk, tuple(transcript.segments), transcript.language)

    def _write(
        self,
        job: Job,
        item: Item,
        meta: Mapping[str, Any],
        segments: Sequence[Segment],
        method: str,
        engine_name: str | None,
        language: str | None,
    ) -> dict[str, str]:
        from engine.outputs import Chapter, TranscriptDoc, write_outputs

        title = item.title or item.source
        chapters = tuple(
            Chapter(float(c[0]), float(c[1]) if c[1] is not None else None, str(c[2]))
            for c in meta.get("chapters") or ()
        )
        extras = {str(k): str(v) for k, v in (meta.get("extras") or {}).items()}
        # A spreadsheet's description column is the note's description, not an extra property.
        listed_description = extras.pop("description", None)
        url = meta.get("url") or (item.location if item.kind != "file" else None)
        doc = TranscriptDoc(
            source=redact_text(item.source),
            url=redact_text(url) if url else None,  # a signed link's token stays out of the note
            title=title,
            channel=meta.get("channel") or meta.get("artist"),
            upload_date=meta.get("upload_date"),
            duration=item.duration,
            method=method,
            engine=engine_name,
            language=language,
            processed_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            tags=tuple(str(t) for t in meta.get("tags") or ()),
            description=meta.get("description") or listed_description or None,
            chapters=chapters,
            extras=extras,
            segments=tuple(segments),
        )
        stem = self.names.claim(title, key=name_key(item.id, item.location))
        if item.meta.get("stem") != stem:
            job.update(meta={**item.meta, "stem": stem})
            if self.checkpoints is not None:
                self.checkpoints.save_stem(item.id, stem)
        paths = write_outputs(
            doc, self.output_dir, stem, self.settings.formats, timestamps=self.settings.timestamps
        )
        return {fmt: str(path) for fmt, path in paths.items()}

    def _expand(self, job: Job, item: Item) -> None:
        from engine.remote import expand_playlist

        job.stage("expand")
        job.acquire(MEDIA_SERVICE)
        entries = expand_playlist(item.location, cookies=self._cookies())
        children = [
            Item(
                -1,
                source=redact_text(url),
                kind="youtube" if "youtube.com" in url or "youtu.be" in url else "url",
                location=url,
                origin=item.source,
                row=item.row,
                title=title,
                meta={"playlist": item.source, "extras": dict(item.meta.get("extras") or {})},
            )
            for url, title in entries
        ]
        if self.engine_add is not None and children:
            self.engine_add(children)
        job.update(meta={**item.meta, "expanded": len(children)}, method="playlist")
        job.note("playlist", f"{item.source}: {len(children)} videos queued")

    def _reclassify(self, job: Job, item: Item) -> Item:
        """A retried bad input is looked at afresh: the missing file may exist now, the row fixed."""
        from engine.inputs import classify

        origin = item.origin
        bases = [Path(origin).parent] if origin not in ("", "args", "stdin") else []
        kind, location, error = classify(item.source, bases=bases)
        if kind == "invalid":
            reason = error or item.meta.get("input_error") or "unusable input"
            unit = "line" if origin.endswith((".txt", ".list")) else "row"
            where = f"{Path(origin).name} {unit} {item.row}: " if item.row and origin else ""
            raise InputError(reason if reason.startswith(where) else f"{where}{reason}")
        job.update(kind=kind, location=location)
        return job.item

    def _cookies(self) -> Path | None:
        return Path(self.settings.cookies) if self.settings.cookies else None


def name_key(item_id: int, location: str) -> str:
    return f"item-{item_id}:{location}"


def _same_span(saved: tuple[float, float, Any, Any], chunk: Chunk) -> bool:
    return abs(saved[0] - chunk.start) < 0.01 and abs(saved[1] - chunk.end) < 0.01


def _preview(segments: Sequence[Segment]) -> tuple[str, ...]:
    return tuple(s.text for s in segments[-PREVIEW_LINES:] if s.text)


def _clean(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if v not in (None, "", [], {})}


def items_from_sources(sources: Sequence[Any]) -> list[Item]:
    """Turn parsed input sources into engine items; invalid ones start out failed with their reason."""
    items = []
    for source in sources:
        meta: dict[str, Any] = {}
        if source.extras:
            meta["extras"] = dict(source.extras)
        if not source.valid:
            items.append(
                Item(
                    -1,
                    source=shown(source.raw),
                    kind="invalid",
                    row=source.row,
                    origin=source.origin,
                    state=State.FAILED,
                    error_class="input",
                    error=source.error,
                    meta={**meta, "input_error": source.error},
                )
            )
            continue
        items.append(
            Item(
                -1,
                source=shown(source.raw),  # what people see; ``location`` opens the file
                kind=source.kind,
                location=source.location,
                row=source.row,
                origin=source.origin,
                title=source.title,
                meta=meta,
            )
        )
    return items
