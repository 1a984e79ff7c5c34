"""A worker's pipeline: every stage as usual, but the transcript is kept to be shipped, not written."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from engine.distributed.wire import Result
from engine.items import Item
from engine.job import Job
from engine.pipeline import Pipeline
from engine.segments import Segment


class ShippingPipeline(Pipeline):
    """``results[item_id]`` holds what ``_write`` would have written; the coordinator writes it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results: dict[int, Result] = {}
        self._results_lock = threading.Lock()

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
        result = Result(
            title=item.title,
            duration=item.duration,
            meta=dict(meta),
            segments=tuple(segments),
            method=method,
            engine=engine_name,
            language=language,
            approximate=approximate,
        )
        with self._results_lock:
            self.results[item.id] = result
        return {}  # no file here: the coordinator's folder is the only one

    def take(self, item_id: int) -> Result | None:
        with self._results_lock:
            return self.results.pop(item_id, None)
