"""A worker's pipeline: every stage as usual, but the transcript is kept to be shipped, not written."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from engine.distributed.wire import Result
from engine.items import Item
from engine.pipeline import Pipeline
from engine.run.job import Job
from engine.sources.expand import expand_feed_item, expand_playlist_item
from engine.sources.feeds import Feed
from engine.stages.write import ItemRecord, Outputs, Transcribed


class ShippingPipeline(Pipeline):
    """``results[item_id]`` holds what ``_write`` would have written; the coordinator writes it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results: dict[int, Result] = {}
        self.children: dict[int, list[Item]] = {}
        self._results_lock = threading.Lock()

    def _write(self, job: ItemRecord, meta: Mapping[str, Any], found: Transcribed) -> Outputs:
        """Write (or, on a distributed worker, ship) the item's transcript; the files written."""
        item = job.item
        result = Result(
            title=item.title,
            duration=item.duration,
            meta=dict(meta),
            segments=found.segments,
            method=found.method,
            engine=found.engine,
            language=found.language,
            approximate=found.approximate,
        )
        with self._results_lock:
            self.results[item.id] = result
        return {}  # no file here: the coordinator's folder is the only one

    def take(self, item_id: int) -> Result | None:
        with self._results_lock:
            return self.results.pop(item_id, None)

    def take_children(self, item_id: int) -> list[Item] | None:
        with self._results_lock:
            return self.children.pop(item_id, None)

    # A feed or playlist found here becomes items of the coordinator's session, not of this worker.

    def _expand(self, job: Job, item: Item) -> None:
        expand_playlist_item(job, item, self.settings, self._cookies(), self._keep(job.item_id))

    def _expand_feed(self, job: Job, item: Item, feed: Feed) -> None:
        expand_feed_item(job, item, feed, self.settings, self._keep(job.item_id))

    def _keep(self, item_id: int) -> Callable[[list[Item]], None]:
        with self._results_lock:
            self.children.setdefault(item_id, [])  # a feed with no episode chosen is still one

        def keep(children: list[Item]) -> None:
            with self._results_lock:
                self.children.setdefault(item_id, []).extend(children)

        return keep
