"""A batch: settings turned into a transcriber, limiters, an engine and a pipeline, plus its reports."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.asr_choice import AsrChoice, build_transcriber, pick_engine
from engine.board import Board
from engine.events import EventKind
from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.limits.registry import Registry
from engine.limits.services import Service
from engine.limits.shared import SharedQuota, quota_name
from engine.pipeline import Pipeline
from engine.providers.base import Transcriber
from engine.redact import has_masked_secret, redact_text
from engine.run.engine import Engine
from engine.settings import Settings
from engine.stages.checkpoints import Checkpoints
from engine.stages.resolve import items_from_sources
from engine.storable import shown

BALANCE_EVERY = 60.0


def choose_transcriber(settings: Settings) -> Transcriber:
    """The ASR engine for this run. ``auto``: the API when a key is set, else whisper, else sphinx."""
    return build_transcriber(settings, pick_engine(settings).engine)


def shared_quota(settings: Settings) -> SharedQuota | None:
    """The Redis-held quota for the transcription API, when ``--redis`` asks for one."""
    if not settings.redis:
        return None
    key = settings.api_keys[0] if settings.api_keys else None
    name = settings.quota or quota_name(settings.api_base, key)
    return SharedQuota.connect(settings.redis, name)


class Batch:
    """Everything one run needs, wired together; the faces (TUI, headless) drive ``engine``."""

    def __init__(
        self,
        settings: Settings,
        output_dir: Path,
        *,
        transcriber: Transcriber | None = None,
        board: Board | None = None,
        checkpoints: Checkpoints | None = None,
        temp_root: Path | None = None,
        stems: Mapping[int, tuple[str, str]] | None = None,
        pipeline_class: type[Pipeline] = Pipeline,
    ) -> None:
        self.settings = settings.validate()
        self.output_dir = output_dir
        # Pick the engine first: a run that cannot start (no key) leaves no empty folder behind.
        if transcriber is None:
            self.asr_choice = pick_engine(settings)
            transcriber = build_transcriber(settings, self.asr_choice.engine)
        else:
            self.asr_choice = AsrChoice(transcriber.name, "given by the caller")
        self.transcriber = transcriber
        output_dir.mkdir(parents=True, exist_ok=True)
        self.limits = self._limits(settings)
        if self.transcriber.service is not None:
            # What the service says about its quota reaches the limiter that paces it.
            self.transcriber.on_reply = self.limits[self.transcriber.service].observe
        self.board = board if board is not None else Board()
        self.transcriber.on_event = self.board.post
        # Prepaid services (deAPI) report the balance each time it is read: show it.
        self.transcriber.on_balance = self._show_balance
        # A distributed worker's pipeline ships transcripts instead of writing them.
        self.pipeline = pipeline_class(
            settings,
            output_dir,
            self.transcriber,
            checkpoints=checkpoints,
            temp_root=temp_root,
            stems=stems,
        )
        self.engine = Engine(
            self.pipeline,
            board=self.board,
            workers=settings.workers,
            parallel=settings.parallel and settings.workers > 1,
            limiters=self.limits.values(),
            key_counts=self.limits.key_counts,
            order=settings.order,
            retries=settings.retries,
        )
        self.pipeline.engine_add = self.engine.add
        # Local engines run in worker processes; keep their pool as large as the worker pool.
        self.engine.on_resize = self.transcriber.resize
        self.transcriber.resize(self.engine.workers)
        self.started_at = datetime.now(UTC)

    def _limits(self, settings: Settings) -> Registry:
        """The media hosts' limiter, and the transcription service's when it is rate-limited."""
        limits = Registry()
        limits.add(Limiter(Service.MEDIA, settings.media_rate_limit))
        service = self.transcriber.service
        if service is not None:
            rate = settings.rate_limit
            if self.transcriber.name == "deapi":
                from engine.providers.deapi_plan import plan_rate

                rate = plan_rate(settings)
            limiter = Limiter(
                service,
                rate,
                mode=settings.rate_mode,
                max_pause=settings.max_retry_after,
                quota=shared_quota(settings),
            )
            limits.add(limiter, keys=len(settings.api_keys))
        return limits

    def _show_balance(self, value: float) -> None:
        # Read after every charged job; said at most once a minute so a long run's log stays short.
        last_value, last_time = getattr(self, "_balance_said", (None, -BALANCE_EVERY))
        now = time.monotonic()
        if value != last_value and now - last_time >= BALANCE_EVERY:
            self._balance_said = (value, now)
            self.board.post(EventKind.BALANCE, f"{self.transcriber.name} balance: ${value:.2f}")

    def live_settings(self) -> Settings:
        """The settings as they are now, with the changes made while running (workers, limits)."""
        view = self.engine.view
        changes: dict[str, Any] = {
            "workers": view.last_parallel,
            "parallel": view.parallel,
            "order": view.order,
            "media_rate_limit": str(self.limits[Service.MEDIA].spec),
        }
        service = self.transcriber.service
        if service is not None and service in self.limits:
            changes["rate_limit"] = str(self.limits[service].spec)
            changes["rate_mode"] = self.limits[service].mode
        return self.settings.evolve(**changes)

    def add_sources(self, sources: Sequence[Any], *, choice: Any = None) -> list[Item]:
        """Add new items; a link given again restores the token its stored form lost.

        ``choice`` (an EpisodeChoice) rides on their feeds and playlists.
        """
        masked = {
            item.location: item
            for item in self.board.items()
            if item.kind != "file" and has_masked_secret(item.location) and not item.state.active
        }
        fresh = []
        for source in sources:
            stored = redact_text(source.location) if source.valid else ""
            old = masked.get(stored) if stored != source.location else None
            if old is None:
                fresh.append(source)
                continue
            self.board.record(old.id, location=source.location)
            if old.state is State.FAILED:
                self.engine.retry([old.id])
        return self.engine.add(items_from_sources(fresh, choice=choice))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the engine; work in other processes is abandoned at once, its items requeued.

        Without the abort a stop waited for every chunk being decoded (14-20 s measured with the
        offline engine on 2 loaded cores), long enough for people to reach for kill -9.
        """
        self.engine.stop(timeout=0)  # stopping first, so the abandoned chunks count as stopped
        self.transcriber.abort()
        self.engine.stop(timeout)

    def close(self) -> None:
        self.transcriber.close()

    # -- reports ------------------------------------------------------------------------------

    def item_rows(self) -> list[dict[str, Any]]:
        return [item_row(item) for item in self.board.items()]

    def write_reports(self, session: dict[str, Any] | None = None) -> Path:
        """Write manifest.json and items.csv for the batch as it stands now."""
        from engine.outputs import write_items_csv, write_manifest

        rows = self.item_rows()
        info = {
            **(session or {}),  # the id first: a reader of the folder finds its owner at the top
            "started_at": self.started_at.replace(microsecond=0).isoformat(),
            "written_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "output_dir": str(self.output_dir),
            "asr": self.transcriber.name,
            "settings": self.live_settings().saved(),
        }
        path = write_manifest(self.output_dir, info, rows)
        write_items_csv(self.output_dir, rows)
        return path

    def counts(self) -> Counter[str]:
        return Counter(item.state.value for item in self.board.items())


def item_row(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": shown(redact_text(item.source)),
        "row": item.row,
        "origin": shown(item.origin),
        "kind": item.kind,
        "title": item.title,
        "status": item.state.value,
        "outcome": item.meta.get("outcome"),
        "method": item.method,
        "engine": item.engine,
        "language": item.language,
        "attempts": item.attempts,
        "error": shown(redact_text(item.error)) if item.error else item.error,
        "error_class": item.error_class,
        "duration": round(item.duration, 3) if item.duration is not None else None,
        "chunks": item.chunks_total or None,
        "outputs": dict(item.outputs),
        # Which machine and worker transcribed it, in a distributed batch (engine/distributed).
        **{k: item.meta[k] for k in ("host", "worker") if item.meta.get(k)},
    }


def exit_code(items: Sequence[Item]) -> int:
    """0 when every item is done (or skipped), 1 when some failed or were cancelled."""
    bad = {State.FAILED, State.CANCELLED, State.QUEUED, State.RUNNING, State.WAITING}
    return 1 if any(item.state in bad for item in items) else 0
