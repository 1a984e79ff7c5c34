"""A session being worked on: the store, the lock, the batch, and the recorder that keeps them in step.

The recorder pulls the Board's changes as they happen (woken by each change, batched within a tick)
and commits them; finished chunks and file-name stems are committed synchronously by the pipeline's
checkpoints, so a kill at any moment loses no finished chunk and no written file is orphaned.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.batch import Batch
from engine.board import Board
from engine.errors import BulkscribeError
from engine.items import Item, State
from engine.outputs.manifest import ITEMS_CSV_NAME, MANIFEST_NAME
from engine.providers.base import Chunk, Transcriber
from engine.segments import Segment
from engine.settings import Settings
from sessions.store import SessionInfo, Store

_FLUSH_EVERY = 0.1
# The temp file of an atomic write (engine/outputs/atomic.py): ".<name>.<8 hex digits>.tmp".
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{8}\.tmp")
_KEPT_EVENTS = {
    "blocked",
    "failed",
    "429",
    "retry",
    "rechunk",
    "playlist",
    "workers",
    "rate",
    "pause",
    "finished",
}


class StoreCheckpoints:
    """The pipeline's Checkpoints, kept in the session store."""

    def __init__(self, store: Store, session_id: str, board: Board) -> None:
        self.store, self.session_id, self.board = store, session_id, board

    def load(self, item_id: int) -> Mapping[int, tuple[float, float, list[Segment], str | None]]:
        return self.store.load_chunks(self.session_id, item_id)

    def save(
        self, item_id: int, chunk: Chunk, segments: Sequence[Segment], language: str | None
    ) -> None:
        self.store.save_chunk(
            self.session_id, item_id, chunk.index, chunk.start, chunk.end, segments, language
        )

    def drop(self, item_id: int) -> None:
        self.store.drop_chunks(self.session_id, item_id)

    def save_stem(self, item_id: int, stem: str) -> None:
        self.store.save_items(self.session_id, [self.board.get(item_id)])


class Recorder:
    """Commits every change on the Board to the store, from its own thread."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        board: Board,
        settings: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.store, self.session_id, self.board = store, session_id, board
        # Where to read the live settings from, so a resize or a new limit survives a resume.
        self._settings = settings
        self._settings_seen: tuple[Any, ...] | None = None
        self._wake = threading.Event()
        self._cursor = board.cursor(wake=self._wake)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bulkscribe-recorder", daemon=True)
        self.errors: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def flush(self) -> None:
        changes = self._cursor.pull()
        if changes.items:
            self.store.save_items(self.session_id, changes.items)
        if self._settings is not None:
            view = changes.stats.engine
            seen = (
                view.last_parallel,
                view.parallel,
                view.order,
                tuple((s.service, s.spec, s.mode) for s in changes.stats.services),
            )
            if seen != self._settings_seen:
                self.store.update_session(self.session_id, settings=self._settings())
                self._settings_seen = seen
        for event in changes.events:
            if event.kind in _KEPT_EVENTS:
                self.store.add_event(self.session_id, event.kind, event.text, event.t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)
        self.flush()
        self._cursor.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - a full disk must not kill the run silently
                self.errors.append(str(exc))
                self.board.post("failed", f"could not save the session: {exc}")
            self._stop.wait(_FLUSH_EVERY)


class LiveSession:
    """Open a new or saved session, run it, and close it with its status recorded."""

    def __init__(self, store: Store, session_id: str, batch: Batch, name: str) -> None:
        self.store = store
        self.session_id = session_id
        self.batch = batch
        self.name = name
        self._lock = store.lock(session_id)
        self._lock.__enter__()
        self.recorder = Recorder(
            store, session_id, batch.board, settings=lambda: batch.live_settings().saved()
        )
        self._closed = False
        # Why the reports could not be written when the session closed, if they could not.
        self.report_error: str | None = None

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        store: Store,
        settings: Settings,
        inputs: Sequence[str],
        sources: Sequence[Any],
        *,
        transcriber: Transcriber | None = None,
    ) -> LiveSession:
        output = Path(settings.output)
        session_id = store.create_session(
            name=output.name, inputs=list(inputs), settings=settings.saved(), output_dir=str(output)
        )
        board = Board()
        try:
            batch = Batch(
                settings,
                output,
                transcriber=transcriber,
                board=board,
                checkpoints=StoreCheckpoints(store, session_id, board),
                temp_root=temp_root(store, session_id),
            )
        except BaseException:
            # A run that cannot start (no API key, say) must not leave an empty session behind.
            shutil.rmtree(_temp_path(store, session_id), ignore_errors=True)
            with suppress(Exception):  # the reason it could not start matters more
                store.delete(session_id)
            raise
        live = cls(store, session_id, batch, output.name)
        batch.add_sources(sources)
        live.recorder.flush()  # every item is in the store before any work starts
        live.recorder.start()
        return live

    @classmethod
    def resume(
        cls,
        store: Store,
        info: SessionInfo,
        settings: Settings,
        *,
        transcriber: Transcriber | None = None,
    ) -> LiveSession:
        """Carry on: done items stay done, running ones are requeued, long ones continue by chunk."""
        lock = store.lock(info.id)
        lock.__enter__()  # refuse early, before touching anything, if another process has it
        lock.__exit__(None, None, None)
        items = [_requeued(item) for item in store.load_items(info.id)]
        stems = {i.id: (i.location, str(i.meta["stem"])) for i in items if i.meta.get("stem")}
        output = Path(settings.output or info.output_dir)
        # A run killed while writing leaves a half-written temp file beside the outputs.
        remove_stale_temps(output, [stem for _, stem in stems.values()])
        board = Board()
        temp = temp_root(store, info.id)
        batch = Batch(
            settings,
            output,
            transcriber=transcriber,
            board=board,
            checkpoints=StoreCheckpoints(store, info.id, board),
            temp_root=temp,
            stems=stems,
        )
        live = cls(store, info.id, batch, info.name)
        batch.engine.add(items)
        store.update_session(info.id, status="running", settings=settings.saved())
        live.recorder.flush()
        live.recorder.start()
        return live

    # -- closing ----------------------------------------------------------------------------

    def close(self, *, interrupted: bool = False) -> Path:
        """Stop the engine (running items go back to the queue), save everything, release the lock."""
        if self._closed:
            return self.batch.output_dir / MANIFEST_NAME
        self._closed = True
        manifest = self.batch.output_dir / MANIFEST_NAME
        try:
            self.batch.stop()
            self.batch.close()
            self.recorder.stop()
            items = self.batch.board.items()
            finished = all(item.state.terminal for item in items)
            status = "finished" if finished and not interrupted else "paused"
            counts: dict[str, int] = {}
            for item in items:
                counts[item.state.value] = counts.get(item.state.value, 0) + 1
            self.store.update_session(self.session_id, status=status, totals=counts)
            try:
                manifest = self.batch.write_reports(
                    {"id": self.session_id, "name": self.name, "status": status}
                )
            except OSError as exc:
                # A full disk must not cost the session: it is saved; the reports can be rewritten.
                self.report_error = str(exc)
            except BulkscribeError as exc:
                self.report_error = exc.user_text
        finally:
            shutil.rmtree(_temp_path(self.store, self.session_id), ignore_errors=True)
            self._lock.__exit__(None, None, None)
        return manifest


def temp_root(store: Store, session_id: str) -> Path:
    """A per-session scratch folder beside the database, emptied on every start and close."""
    path = _temp_path(store, session_id)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_stale_temps(output: Path, stems: Iterable[str]) -> list[Path]:
    """Delete temp files of interrupted writes to this session's outputs; return what was deleted.

    Only files of the session's own stems and reports are touched: another session may be writing
    into the same folder right now.
    """
    ours = set(stems)
    removed: list[Path] = []
    if not output.is_dir():
        return removed
    for entry in output.iterdir():
        match = _TEMP_NAME.fullmatch(entry.name)
        if match is None or not entry.is_file():
            continue
        target = match.group("target")
        if target in (MANIFEST_NAME, ITEMS_CSV_NAME) or Path(target).stem in ours:
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _temp_path(store: Store, session_id: str) -> Path:
    return store.path.parent / "tmp" / session_id


def _requeued(item: Item) -> Item:
    if item.state in (State.RUNNING, State.WAITING):
        return replace(item, state=State.QUEUED, stage=None, worker=None)
    return item
