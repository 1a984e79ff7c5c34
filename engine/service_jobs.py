"""What the pipeline adds for engines that submit paid jobs (deAPI): the day quota before each
permit, and the job's request id kept as a checkpoint so a resume polls it instead of paying again."""

from __future__ import annotations

import threading
from typing import Any

from engine.events import EventKind
from engine.limits.dayquota import pause_text
from engine.providers.base import Transcriber
from engine.run.job import Job


class ServiceJobs:
    """Shared by every worker of one pipeline."""

    def __init__(self, transcriber: Transcriber, checkpoints: Any) -> None:
        self.transcriber = transcriber
        self.checkpoints = checkpoints
        self._lock = threading.Lock()
        self._announced = 0.0  # the reset time of the last daily-limit pause announced

    def hooks(self, job: Job, part: str) -> dict[str, Any]:
        """Keyword arguments for a job-kind engine: resume the job saved for ``part`` (a URL, a
        chunk), save a new one's id the moment it is known, sleep between polls cancellably."""
        load = getattr(self.checkpoints, "load_requests", None)
        save = getattr(self.checkpoints, "save_request", None)
        saved = load(job.item_id) if callable(load) else {}
        item_id = job.item_id

        def submitted(request_id: str | None) -> None:
            if callable(save):
                save(item_id, part, request_id)

        return {"resume_id": saved.get(part), "on_submitted": submitted, "sleep": job.sleep}

    def permit(self, job: Job, service: str) -> None:
        """The service's calendar-day quota (when it has one), then its rate-limit permit."""
        quota = self.transcriber.day_quota
        if quota is not None:

            def paused(resets_at: float) -> None:
                job.waiting(True)
                with self._lock:
                    first, self._announced = self._announced != resets_at, resets_at
                if first:
                    text = pause_text(self.transcriber.name, quota.limit, resets_at)
                    job.note(EventKind.DAILY_LIMIT, text)

            def resumed() -> None:
                job.waiting(False)

            quota.wait(job.cancel_event, on_pause=paused, on_resume=resumed)
        try:
            job.acquire(service)
        except BaseException:
            if quota is not None:
                quota.give_back()  # the request was never sent
            raise
