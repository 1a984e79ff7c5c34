"""Captions tier of the transcript stage: the site's own captions; None hands over to ASR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import SourceError
from engine.events import EventKind
from engine.run.job import Job
from engine.settings import Settings
from engine.sources.expand import MEDIA_SERVICE

if TYPE_CHECKING:  # yt-dlp is imported when a page is first read, not with the pipeline
    from engine.sources.caption_tracks import CaptionResult
    from engine.sources.remote import RemoteInfo


def captions_tier(
    job: Job, info: RemoteInfo, settings: Settings, cookies: Path | None
) -> CaptionResult | None:
    """Captions from the site, trying every format and track; None means ASR is next."""
    from engine.sources.caption_tracks import try_captions

    job.stage("captions")
    attempt = try_captions(
        info,
        settings.languages,
        cookies=cookies,
        before_request=lambda: job.acquire(MEDIA_SERVICE),
        on_rate_limited=lambda after: job.throttle(MEDIA_SERVICE, after),
    )
    for failure in attempt.failures:
        job.note(EventKind.CAPTIONS, failure)
    if attempt.result is not None:
        found: CaptionResult = attempt.result
        # Kind "path": the event log shows it; headless output would drown in one per item.
        job.note(
            EventKind.PATH,
            f"transcript from {found.kind} captions ({found.language}, {found.format})",
        )
        return found
    why = attempt.summary()
    if not attempt.tried and not settings.captions_only:
        job.note(EventKind.PATH, "no captions listed; transcribing the audio")  # the usual case
        return None
    if settings.captions_only:
        raise SourceError(
            f"no usable captions ({why})",
            hint="run without --captions-only to transcribe the audio instead",
        )
    job.note(EventKind.CAPTIONS, f"no usable captions ({why}); transcribing the audio")
    return None
