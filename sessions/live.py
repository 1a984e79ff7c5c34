"""A session being worked on: the store, the locks, the batch, and the recorder that keeps them in step.

A kill at any moment loses no finished chunk and orphans no written file (see sessions/recorder.py);
a store that cannot write pauses the run and fails nothing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from engine import lifecycle
from engine.batch import Batch
from engine.board import Board
from engine.errors import BulkscribeError, StoreError
from engine.events import EventKind
from engine.items import Item
from engine.outputs.folder_lock import FolderLock
from engine.outputs.manifest import ITEMS_CSV_NAME, MANIFEST_NAME
from engine.providers.base import Transcriber
from engine.settings import Settings
from sessions.recorder import Recorder, StoreCheckpoints
from sessions.store import STORE_CANNOT_WRITE, SessionInfo, Store

__all__ = ["LiveSession", "Recorder", "StoreCheckpoints", "remove_stale_temps", "temp_root"]

# The temp file of an atomic write (engine/outputs/atomic.py): ".<name>.<8 hex digits>.tmp".
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{8}\.tmp")


class LiveSession:
    """Open a new or saved session, run it, and close it with its status recorded."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        batch: Batch,
        name: str,
        folder_lock: FolderLock | None = None,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.batch = batch
        self.name = name
        self._lock = store.lock(session_id)
        self._lock.__enter__()
        # The output folder is this session's alone while it runs (taken before the batch is built).
        self._folder_lock = folder_lock
        self.recorder = Recorder(
            store,
            session_id,
            batch.board,
            settings=lambda: batch.live_settings().saved(),
            on_full=batch.engine.block,
            on_back=self._store_back,
        )
        checkpoints = batch.pipeline.checkpoints
        if isinstance(checkpoints, StoreCheckpoints):
            checkpoints.on_error = self.recorder.full
        self._closed = False
        # Why the reports could not be written when the session closed, if they could not.
        self.report_error: str | None = None
        # Why the store could not record the end of the session, if it could not.
        self.store_error: str | None = None

    def _store_back(self) -> None:
        """Space returned: if the run was paused only because the store was full, carry on."""
        engine = self.batch.engine
        if engine.blocked is not None and engine.blocked.startswith(STORE_CANNOT_WRITE):
            self.batch.board.post(EventKind.STORE, "the session store can write again: carrying on")
            engine.resume()

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
        folder_lock = FolderLock(output, session_id)
        try:
            # Refused when another session is writing there or left its reports there.
            folder_lock.acquire()
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
            folder_lock.release()
            shutil.rmtree(_temp_path(store, session_id), ignore_errors=True)
            with suppress(Exception):  # the reason it could not start matters more
                store.delete(session_id)
            raise
        live = cls(store, session_id, batch, output.name, folder_lock)
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
        folder_lock = FolderLock(output, info.id)
        folder_lock.acquire()
        try:
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
        except BaseException:
            folder_lock.release()
            raise
        live = cls(store, info.id, batch, info.name, folder_lock)
        batch.engine.add(items)
        store.update_session(info.id, status="running", settings=settings.saved())
        live.recorder.flush()
        live.recorder.start()
        return live

    # -- closing ----------------------------------------------------------------------------

    def batch_finished(self) -> Path | None:
        """Every item has finished: write manifest.json and items.csv now, not only at quit.

        The session is marked finished too, so a kill after this point leaves correct reports and
        nothing to resume. Returns the manifest's path, or None when items are still to run.
        """
        self.recorder.flush()
        items = self.batch.board.items()
        if not items or not all(item.state.terminal for item in items):
            return None
        counts: dict[str, int] = {}
        for item in items:
            counts[item.state.value] = counts.get(item.state.value, 0) + 1
        self.store.update_session(self.session_id, status="finished", totals=counts)
        return self.batch.write_reports(
            {"id": self.session_id, "name": self.name, "status": "finished"}
        )

    def close(self, *, interrupted: bool = False) -> Path:
        """Stop the engine (running items go back to the queue), save everything, release the lock."""
        if self._closed:
            return self.batch.output_dir / MANIFEST_NAME
        self._closed = True
        manifest = self.batch.output_dir / MANIFEST_NAME
        try:
            self.batch.stop()
            self.batch.close()
            try:
                self.recorder.stop()
            except StoreError as exc:
                self.store_error = exc.user_text
            items = self.batch.board.items()
            finished = all(item.state.terminal for item in items)
            status = "finished" if finished and not interrupted else "paused"
            counts: dict[str, int] = {}
            for item in items:
                counts[item.state.value] = counts.get(item.state.value, 0) + 1
            try:
                self.store.update_session(self.session_id, status=status, totals=counts)
            except StoreError as exc:
                # The reports below still say where every item stands; a resume redoes the rest.
                self.store_error = self.store_error or exc.user_text
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
            if self._folder_lock is not None:
                self._folder_lock.release()
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
    if item.state.active:
        return lifecycle.applied(item, lifecycle.requeue())
    return item
