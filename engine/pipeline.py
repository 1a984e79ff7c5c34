"""One item's journey: resolve, metadata, transcript (captions first, then ASR in chunks), write.

The pipeline is the engine's work function; each stage lives in ``engine/stages/``. It knows
nothing of screens or sessions: durable chunk checkpoints come in through ``Checkpoints``.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import KW_ONLY, InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import OutputError
from engine.events import EventKind
from engine.items import Item
from engine.langcodes import language_code
from engine.providers.base import Transcriber, takes_url
from engine.run.job import Job
from engine.segments import Segment
from engine.settings import Settings
from engine.sources.expand import MEDIA_SERVICE, expand_feed_item, expand_playlist_item
from engine.sources.feeds import Feed
from engine.stages.captions import captions_tier
from engine.stages.checkpoints import Checkpoints
from engine.stages.metadata import read_metadata
from engine.stages.resolve import feed_at, reclassify, refuse_lost_secret
from engine.stages.transcript import AsrTier, preview
from engine.stages.write import (
    ItemRecord,
    Outputs,
    Transcribed,
    name_key,
    transcript_doc,
    write_doc,
)

if TYPE_CHECKING:
    from engine.outputs import NameBook

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclass(eq=False, repr=False)  # equal only to itself; no repr that would print its settings
class Pipeline:
    """The work function: ``pipeline(job)`` turns one queued item into transcript files.

    ``_write``, ``_expand`` and ``_expand_feed`` are the points a distributed worker's pipeline
    overrides to ship its results instead of writing them.
    """

    settings: Settings
    output_dir: Path
    transcriber: Transcriber
    _: KW_ONLY
    checkpoints: Checkpoints | None = None
    temp_root: Path | None = None
    # Stems given out in an earlier run of this session (item id -> (location, stem)).
    stems: InitVar[Mapping[int, tuple[str, str]] | None] = None
    names: NameBook = field(init=False)
    asr: AsrTier = field(init=False)
    # Set by the runner: queues items found in playlists.
    engine_add: Any = field(init=False, default=None)

    def __post_init__(self, stems: Mapping[int, tuple[str, str]] | None) -> None:
        from engine.outputs import NameBook

        claimed = {name_key(i, loc): stem for i, (loc, stem) in (stems or {}).items()}
        self.names = NameBook(self.output_dir, claimed=claimed)
        self.asr = AsrTier(self.settings, self.transcriber, self.checkpoints)

    def __call__(self, job: Job) -> None:
        item = job.item
        if item.kind == "invalid":
            item = reclassify(job, item)
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

    def _run(self, job: Job, item: Item, workdir: Path) -> None:
        refuse_lost_secret(item)
        job.stage("metadata")
        feed = feed_at(job, item)
        if feed is not None:
            self._expand_feed(job, item, feed)
            return
        by_url = takes_url(self.transcriber, item.location)
        meta, info, media_path = read_metadata(
            job, item, by_url=by_url, captions=self.settings.captions, cookies=self._cookies()
        )
        if info is not None and info.is_playlist:
            # A podcast feed or a page of videos: each entry becomes an item of its own.
            self._expand(job, job.item)
            return
        segments: list[Segment] = []
        language = None
        method = engine_name = None
        if info is not None and self.settings.captions:
            found = captions_tier(job, info, self.settings, self._cookies())
            if found is not None and found.segments:
                segments, language = list(found.segments), found.language
                method, engine_name = "captions", f"{found.kind} captions"
        if not segments and media_path is None and by_url:
            # The service fetches this URL itself: no download, no chunks.
            segments, language = self.asr.transcribe_url(job, item)
            method, engine_name = "asr", self.transcriber.name
        approximate = False
        if not segments:
            if media_path is None:
                media_path = self._download(job, item, workdir)
            segments, language, approximate = self.asr.transcribe(job, media_path, workdir)
            method, engine_name = "asr", self.transcriber.name
        language = language_code(language) or language
        job.stage("write", method=method, engine=engine_name, language=language)
        transcribed = Transcribed(
            tuple(segments), method or "asr", engine_name, language, approximate
        )
        outputs = self._write(job, meta, transcribed)
        from engine.outputs.no_speech import NO_SPEECH, has_speech

        if has_speech(segments):
            job.update(outputs=outputs, preview=preview(segments))
        else:
            # Done, not failed: retrying silence cannot help; the outcome says why there is no text.
            job.update(outputs=outputs, preview=(), meta={**job.item.meta, "outcome": NO_SPEECH})
            job.note(EventKind.NO_SPEECH, f"{job.item.label}: {NO_SPEECH}")

    def _download(self, job: Job, item: Item, workdir: Path) -> Path:
        from engine.http_bounds import MB
        from engine.sources.remote import download_audio

        job.stage("download")
        job.acquire(MEDIA_SERVICE)
        return download_audio(
            item.location,
            workdir / "download",
            cookies=self._cookies(),
            max_bytes=self.settings.max_download_mb * MB,
        )

    def _write(self, job: ItemRecord, meta: Mapping[str, Any], found: Transcribed) -> Outputs:
        """Write (or, on a distributed worker, ship) the item's transcript; the files written."""
        item = job.item
        doc = transcript_doc(item, meta, found)
        return write_doc(
            job,
            item,
            doc,
            names=self.names,
            output_dir=self.output_dir,
            settings=self.settings,
            checkpoints=self.checkpoints,
        )

    def _expand(self, job: Job, item: Item) -> None:
        expand_playlist_item(job, item, self.settings, self._cookies(), self.engine_add)

    def _expand_feed(self, job: Job, item: Item, feed: Feed) -> None:
        expand_feed_item(job, item, feed, self.settings, self.engine_add)

    def _cookies(self) -> Path | None:
        return Path(self.settings.cookies) if self.settings.cookies else None
