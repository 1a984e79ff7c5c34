"""The coordinator's half of a finished item: the pipeline's own writer, fed shipped segments."""

from __future__ import annotations

from typing import Any

from engine import lifecycle
from engine.batch import Batch
from engine.distributed.wire import Result
from engine.errors import describe
from engine.events import EventKind
from engine.items import Item, State
from engine.outputs.no_speech import NO_SPEECH, has_speech
from engine.stages.write import Transcribed

PREVIEW_LINES = 6


class _BoardJob:
    """What the pipeline's writer needs of a Job (the item and its updates), on the coordinator."""

    def __init__(self, batch: Batch, item_id: int) -> None:
        self._board = batch.board
        self.item_id = item_id

    @property
    def item(self) -> Item:
        return self._board.get(self.item_id)

    def update(self, **changes: Any) -> None:
        self._board.record(self.item_id, **changes)


def write_result(
    batch: Batch, item_id: int, result: Result, meta: dict[str, Any], attempts: int
) -> None:
    """Write a shipped transcript's files and mark the item done (or failed, saying why)."""
    board = batch.board
    item = board.record(
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
            _BoardJob(batch, item_id),
            result.meta,
            Transcribed(
                tuple(result.segments), result.method, result.engine, result.language,
                result.approximate,
            ),
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the item fails with its reason; the batch goes on
        kind, text, _ = describe(exc)
        board.apply(item_id, lifecycle.finish(State.FAILED), error=text, error_class=kind)
        board.post(EventKind.FAILED, f"{item.label}: {text}", item_id)
        return
    changes: dict[str, Any] = {}
    if not has_speech(result.segments):
        changes["meta"] = {**board.get(item_id).meta, "outcome": NO_SPEECH}
    board.apply(
        item_id,
        lifecycle.finish(State.DONE),
        attempts=attempts,
        outputs=outputs,
        preview=tuple(s.text for s in result.segments[-PREVIEW_LINES:] if s.text),
        **changes,
    )
