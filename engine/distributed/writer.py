"""The coordinator's half of a finished item: the pipeline's own writer, fed shipped segments."""

from __future__ import annotations

import threading
import time
from typing import Any

from engine.batch import Batch
from engine.distributed.wire import Result
from engine.errors import describe
from engine.items import State
from engine.job import Job
from engine.outputs.no_speech import NO_SPEECH, has_speech

PREVIEW_LINES = 6


def write_result(
    batch: Batch, item_id: int, result: Result, meta: dict[str, Any], attempts: int
) -> None:
    """Write a shipped transcript's files and mark the item done (or failed, saying why)."""
    board = batch.board
    item = board.update(
        item_id,
        title=result.title or board.get(item_id).title,
        duration=result.duration,
        method=result.method,
        engine=result.engine,
        language=result.language,
        meta=meta,
    )
    try:
        # The pipeline's own writer: same names, same formats, same atomic writes as a local run.
        outputs = batch.pipeline._write(
            # A Job of no worker: the writer only reads the item and records its name on it.
            Job(batch.engine, item_id, -1, threading.Event()),
            item,
            result.meta,
            result.segments,
            result.method,
            result.engine,
            result.language,
            result.approximate,
        )
    except Exception as exc:  # noqa: BLE001 - the item fails with its reason; the batch goes on
        kind, text, _ = describe(exc)
        board.update(
            item_id, state=State.FAILED, error=text, error_class=kind, finished_at=time.time()
        )
        board.post("failed", f"{item.label}: {text}", item_id)
        return
    changes: dict[str, Any] = {}
    if not has_speech(result.segments):
        changes["meta"] = {**board.get(item_id).meta, "outcome": NO_SPEECH}
    board.update(
        item_id,
        state=State.DONE,
        stage=None,
        error=None,
        error_class=None,
        attempts=attempts,
        outputs=outputs,
        preview=tuple(s.text for s in result.segments[-PREVIEW_LINES:] if s.text),
        finished_at=time.time(),
        **changes,
    )
