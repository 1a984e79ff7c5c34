"""Sessions whose items all finished but whose run stopped before writing its reports: write them.

A kill (or a crash) after the last item finished left the session "running" with every item done and
manifest.json as it was at the last write. Such a session has nothing to resume; the next start
writes its reports from the store and marks it finished.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.batch import item_row
from engine.errors import BulkscribeError
from engine.outputs import write_items_csv, write_manifest
from sessions.store import SessionInfo, Store


def finish_stale_sessions(store: Store) -> list[SessionInfo]:
    """Write the reports of every finished-but-unclosed session nobody holds; return those done."""
    finished = []
    for info in store.sessions():
        if info.status not in ("running", "paused") or not info.total:
            continue
        if info.finished_items < info.total:
            continue
        lock = store.lock(info.id)
        try:
            lock.__enter__()
        except BulkscribeError:
            continue  # another bulkscribe has it open: it writes its own reports
        try:
            items = store.load_items(info.id)
            counts: dict[str, int] = {}
            for item in items:
                counts[item.state.value] = counts.get(item.state.value, 0) + 1
            output = Path(info.output_dir)
            session = {
                "id": info.id,
                "name": info.name,
                "status": "finished",
                "output_dir": str(output),
                "written_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "settings": dict(info.settings),
            }
            try:
                rows = [item_row(item) for item in items]
                write_manifest(output, session, rows)
                write_items_csv(output, rows)
            except OSError:
                continue  # the folder is gone or full: leave the session as it is
            store.update_session(info.id, status="finished", totals=counts)
            finished.append(info)
        finally:
            lock.__exit__(None, None, None)
    return finished
