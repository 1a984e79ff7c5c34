"""One item's journey: resolve, metadata, transcript (captions first, then ASR in chunks), write.

The pipeline is the engine's work function. It knows nothing of screens or sessions: durable chunk
checkpoints come in through the small ``Checkpoints`` protocol.
"""

from __future__ import annotations

import errno
import functools
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from engine.episodes import EpisodeChoice
from engine.errors import InputError, MediaError, NameTaken, OutputError, SourceError, TooLarge
from engine.expand import MEDIA_SERVICE, expand_feed_item, expand_playlist_item
from engine.feed_fetch import fetch_feed, may_be_feed
from engine.feeds import Feed
from engine.item_caps import cap_meta, cap_title, cap_value
from engine.items import Item, State
from engine.job import Job
from engine.langcodes import language_code
from engine.lifecycle import applied, finish
from engine.providers.base import Chunk, Transcriber, takes_url
from engine.providers.formats import APPROXIMATE
from engine.redact import has_masked_secret, redact_text
from engine.segments import Segment
from engine.service_jobs import ServiceJobs
from engine.settings import Settings
from engine.storable import shown

PREVIEW_LINES = 6
# After a 413, chunks are cut to this share of the largest refused upload, at most this many times.
RECHUNK_SHARE = 0.6
RECHUNK_ROUNDS = 4
MIN_CHUNK_SECONDS = 10.0
# Names tried for one item when its claimed names keep appearing on disk before it writes them.
NAME_ATTEMPTS = 20
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# A job the service fetches by URL reports percent done: shown as steps of the item's progress.
URL_JOB_STEPS = 100
URL_PART = "url"


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

    def load_requests(self, item_id: int) -> Mapping[str, str]:
        """Jobs submitted for an item and not yet finished (part -> the service's request id)."""
        ...

    def save_request(self, item_id: int, part: str, request_id: str | None) -> None:
        """Keep (or with None forget) a job's request id, durably, before it is polled."""
        ...


@dataclass(frozen=True, slots=True)
class ChunkResult:
    chunk: Chunk
    segments: tuple[Segment, ...]
    language: str | None
    approximate: bool = False  # the service gave text only: timings are the chunk's span


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
        self._jobs = ServiceJobs(transcriber, checkpoints)
        self.engine_add: Any = None  # set by the runner: queues items found in playlists

    def __call__(self, job: Job) -> None:
        item = job.item
        if item.kind == "invalid":
            item = self._reclassify(job, item)
        if item.kind == "playlist":
            self._expand(job, item)
            return
        try:
            workdir = Path(tempfile.mkdtemp(prefix="bulkscribe-", dir=self.temp_root))
            try:
                self._run(job, item, workdir)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            # The scratch folder (beside the session store) is full: every item would fail the
            # same way, so pause rather than fail this one.
            where = self.temp_root or Path(tempfile.gettempdir())
            raise OutputError(
                f"disk full in the working folder {where}",
                hint="free space on that drive, then resume",
            ) from exc

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
        if item.kind == "url" and "episode" not in item.meta and may_be_feed(item.location):
            job.acquire(MEDIA_SERVICE)
            feed = fetch_feed(item.location)
            if feed is not None:
                self._expand_feed(job, item, feed)
                return
        meta, info, media_path = self._metadata(job, item)
        if info is not None and info.is_playlist:
            # A podcast feed or a page of videos: each entry becomes an item of its own.
            self._expand(job, job.item)
            return
        segments: list[Segment] = []
        language = None
        method = engine_name = None
        if info is not None and self.settings.captions:
            found = self._captions(job, info)
            if found is not None and found.segments:
                segments, language = list(found.segments), found.language
                method, engine_name = "captions", f"{found.kind} captions"
        if not segments and media_path is None and takes_url(self.transcriber, item.location):
            # The service fetches this URL itself: no download, no chunks.
            segments, language = self._transcribe_url(job, item)
            method, engine_name = "asr", self.transcriber.name
        if not segments:
            if media_path is None:
                job.stage("download")
                from engine.remote import download_audio

                job.acquire(MEDIA_SERVICE)
                media_path = download_audio(
                    item.location, workdir / "download", cookies=self._cookies()
                )
            segments, language, approximate = self._transcribe(job, media_path, workdir)
            method, engine_name = "asr", self.transcriber.name
        else:
            approximate = False
        language = language_code(language) or language
        job.stage("write", method=method, engine=engine_name, language=language)
        outputs = self._write(
            job, job.item, meta, segments, method or "asr", engine_name, language, approximate
        )
        from engine.outputs.no_speech import NO_SPEECH, has_speech

        if has_speech(segments):
            job.update(outputs=outputs, preview=_preview(segments))
        else:
            # Done, not failed: retrying silence cannot help; the outcome says why there is no text.
            job.update(outputs=outputs, preview=(), meta={**job.item.meta, "outcome": NO_SPEECH})
            job.note("no-speech", f"{job.item.label}: {NO_SPEECH}")

    def _captions(self, job: Job, info: Any) -> Any:
        """Captions from the site, trying every format and track; None means ASR is next."""
        from engine.remote import try_captions

        job.stage("captions")
        attempt = try_captions(
            info,
            self.settings.languages,
            cookies=self._cookies(),
            before_request=lambda: job.acquire(MEDIA_SERVICE),
            on_rate_limited=lambda after: job.throttle(MEDIA_SERVICE, after),
        )
        for failure in attempt.failures:
            job.note("captions", failure)
        if attempt.result is not None:
            found = attempt.result
            # Kind "path": the event log shows it; headless output would drown in one per item.
            job.note(
                "path",
                f"transcript from {found.kind} captions ({found.language}, {found.format})",
            )
            return found
        why = attempt.summary()
        if not attempt.tried and not self.settings.captions_only:
            job.note("path", "no captions listed; transcribing the audio")  # the usual case
            return None
        if self.settings.captions_only:
            raise SourceError(
                f"no usable captions ({why})",
                hint="run without --captions-only to transcribe the audio instead",
            )
        job.note("captions", f"no usable captions ({why}); transcribing the audio")
        return None

    def _metadata(self, job: Job, item: Item) -> tuple[dict[str, Any], Any, Path | None]:
        meta: dict[str, Any] = dict(item.meta)
        episode = meta.get("episode")
        if isinstance(episode, Mapping):
            return self._episode_metadata(job, item, meta, episode)
        if item.kind == "file":
            from engine.media import probe

            path = Path(item.location)
            media = probe(path)
            if not media.has_audio:
                raise MediaError(
                    f"no audio track in {path.name}", hint="the file has only video or data"
                )
            title = cap_title(shown(item.title or media.title or path.stem))
            meta.setdefault("artist", media.artist)
            meta = cap_meta(meta)  # tags of a file are outside text too
            job.update(title=title, duration=media.duration, meta=_clean(meta))
            return meta, None, path
        from engine.remote import fetch_info

        by_url = takes_url(self.transcriber, item.location)
        if by_url and not self.settings.captions:
            # No captions wanted and the service fetches the video itself: nothing is fetched here.
            meta.setdefault("url", item.location)
            job.update(title=item.title or item.source, meta=_clean(meta))
            return meta, None, None
        job.acquire(MEDIA_SERVICE)
        try:
            info = fetch_info(item.location, cookies=self._cookies())
        except SourceError as exc:
            if not by_url:
                raise
            # What yt-dlp cannot read here the service may still fetch (it has its own access).
            job.note("metadata", f"{item.source}: no metadata or captions ({exc}); sent by URL")
            meta.setdefault("url", item.location)
            job.update(title=item.title or item.source, meta=_clean(meta))
            return meta, None, None
        extras = meta.get("extras") or {}
        meta.update(
            {
                # A direct media link keeps the address it was given: yt-dlp's generic extractor
                # reports where redirects ended (a CDN, the same for every tracked episode).
                "url": item.location
                if info.extractor == "generic"
                else (info.webpage_url or item.location),
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
        meta = cap_meta(meta)
        job.update(
            title=cap_title(item.title or info.title or item.source),
            duration=info.duration,
            meta=_clean(meta),
        )
        return meta, info, None

    def _episode_metadata(
        self, job: Job, item: Item, meta: dict[str, Any], episode: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Any, Path | None]:
        """A feed episode needs no look at its media: the feed said what it is."""
        extras = meta.get("extras") or {}
        meta.update(
            {
                # The enclosure as the feed gives it, never where its redirects lead.
                "url": episode.get("url") or item.location,
                "channel": episode.get("show"),
                "show": episode.get("show"),
                "upload_date": episode.get("date"),
                "date": episode.get("date"),
                "episode_number": episode.get("episode"),
                "season": episode.get("season"),
                "link": episode.get("link"),
                "description": extras.get("description") or episode.get("description"),
                "thumbnail": episode.get("image"),
                "extractor": "feed",
            }
        )
        job.update(
            title=item.title or episode.get("title") or item.source,
            duration=episode.get("duration"),
            meta=_clean(meta),
        )
        return meta, None, None

    def _transcribe(
        self, job: Job, media: Path, workdir: Path
    ) -> tuple[list[Segment], str | None, bool]:
        from engine.media import balanced_chunk_seconds, split_audio
        from engine.stitch import stitch

        job.stage("decode")
        max_bytes = self.transcriber.max_upload_bytes
        chunk_seconds = self.settings.chunk_seconds
        if self.transcriber.service is None:
            # A local engine is CPU-bound: a multiple of its processes in chunks keeps all busy.
            processes = int(getattr(self.transcriber, "processes", 1))
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
        approximate = any(r.approximate for r in results)
        return stitched, (languages[0] if languages else None), approximate

    def _transcribe_url(self, job: Job, item: Item) -> tuple[list[Segment], str | None]:
        job.stage("transcribe", chunks_total=URL_JOB_STEPS, chunks_done=0)
        service = self.transcriber.service or MEDIA_SERVICE
        language = self.settings.languages[0] if self.settings.languages else None
        transcript = self.transcriber.transcribe_url(  # type: ignore[attr-defined]
            item.location,
            language,
            key_index=job.key_index(service),
            before_send=lambda: self._jobs.permit(job, service),
            on_progress=lambda percent: job.update(chunks_done=int(percent)),
            **self._jobs.hooks(job, URL_PART),
        )
        job.update(chunks_done=URL_JOB_STEPS)
        if transcript.segments:
            job.update(preview=_preview(transcript.segments))
        return list(transcript.segments), transcript.language

    def _chunk(self, job: Job, chunk: Chunk, *, done: Mapping[int, Any]) -> ChunkResult:
        saved = done.get(chunk.index)
        if saved is not None and _same_span(saved, chunk):
            return ChunkResult(chunk, tuple(saved[2]), saved[3])
        # Caption preferences are not a statement about the audio: the service detects the
        # language unless one was asked for.
        language = self.settings.asr_language
        service = self.transcriber.service
        if service is not None and getattr(self.transcriber, "submits_jobs", False):
            part = f"chunk-{chunk.index}@{chunk.start:.2f}-{chunk.end:.2f}"
            transcript = self.transcriber.transcribe(  # type: ignore[call-arg]
                chunk,
                language,
                key_index=job.key_index(service),
                before_send=lambda: self._jobs.permit(job, service),
                **self._jobs.hooks(job, part),
            )
        elif service is not None:
            # The permit is taken inside, once the request is built and ready to go out.
            transcript = self.transcriber.transcribe(  # type: ignore[call-arg]
                chunk,
                language,
                key_index=job.key_index(service),
                before_send=lambda: job.acquire(service),
            )
        elif getattr(self.transcriber, "cancellable", False):
            # A local decode can take minutes; the engine stops it between segments on cancel.
            job.check()
            transcript = self.transcriber.transcribe(  # type: ignore[call-arg]
                chunk, language, cancel=job.cancel_event
            )
        else:
            job.check()
            transcript = self.transcriber.transcribe(chunk, language)
        if self.checkpoints is not None:
            self.checkpoints.save(job.item_id, chunk, transcript.segments, transcript.language)
        job.advance_chunks()
        if transcript.segments:
            job.update(preview=_preview(transcript.segments))
        approximate = transcript.extra.get("timing") == APPROXIMATE
        return ChunkResult(chunk, tuple(transcript.segments), transcript.language, approximate)

    def _write(
        self,
        job: Job,
        item: Item,
        meta: Mapping[str, Any],
        segments: Sequence[Segment],
        method: str,
        engine_name: str | None,
        language: str | None,
        approximate: bool = False,
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
            show=meta.get("show"),
            date=meta.get("date"),
            episode=meta.get("episode_number"),
            link=meta.get("link"),
            chapters=chapters,
            extras=extras,
            segments=tuple(segments),
            timing=APPROXIMATE if approximate else None,
        )
        key = name_key(item.id, item.location)
        for _ in range(NAME_ATTEMPTS):
            stem = self.names.claim(title, key=key)
            current = job.item
            if current.meta.get("stem") != stem:
                job.update(meta={**current.meta, "stem": stem})
                if self.checkpoints is not None:
                    self.checkpoints.save_stem(item.id, stem)
            try:
                paths = write_outputs(
                    doc,
                    self.output_dir,
                    stem,
                    self.settings.formats,
                    timestamps=self.settings.timestamps,
                    fresh=not self.names.owns(key),
                )
            except NameTaken:
                # Someone else's file appeared under this name since the folder was read:
                # leave it alone and take the next free name.
                self.names.forget(key)
                continue
            self.names.written(key)
            return {fmt: str(path) for fmt, path in paths.items()}
        raise OutputError(
            f"could not find a free file name for {title!r} in {self.output_dir}",
            hint="another program keeps creating files there; choose another output folder",
        )

    def _expand(self, job: Job, item: Item) -> None:
        expand_playlist_item(job, item, self.settings, self._cookies(), self.engine_add)

    def _expand_feed(self, job: Job, item: Item, feed: Feed) -> None:
        expand_feed_item(job, item, feed, self.settings, self.engine_add)

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


def items_from_sources(
    sources: Sequence[Any], *, choice: EpisodeChoice | None = None
) -> list[Item]:
    """Turn parsed input sources into engine items; invalid ones start out failed with their reason.

    ``choice`` (episodes to take) travels with each feed or playlist item that may expand.
    """
    items = []
    for source in sources:
        meta: dict[str, Any] = {}
        if source.extras:
            meta["extras"] = cap_value(dict(source.extras))
        if getattr(source, "notes", ()):
            meta["input_notes"] = list(source.notes)
        if choice is not None and source.kind in ("url", "playlist"):
            meta["choose"] = choice.to_meta()
        if not source.valid:
            items.append(
                applied(  # an invalid input is born failed
                    Item(
                        -1,
                        source=shown(source.raw),
                        kind="invalid",
                        row=source.row,
                        origin=source.origin,
                        error_class="input",
                        error=source.error,
                        meta={**meta, "input_error": source.error},
                    ),
                    finish(State.FAILED, stamp=False),
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
                title=cap_title(source.title),
                meta=meta,
            )
        )
    return items
