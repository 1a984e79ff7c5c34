"""The small protocol through which the pipeline keeps finished chunks and submitted jobs durable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from engine.providers.base import Chunk
from engine.segments import Segment


class Checkpoints(Protocol):
    """Where finished chunks are kept so a resumed item continues from its last finished chunk."""

    def load(
        self, item_id: int
    ) -> Mapping[int, tuple[float, float, list[Segment], str | None]]: ...

    def save(
        self, item_id: int, chunk: Chunk, segments: Sequence[Segment], language: str | None
    ) -> None: ...

    def drop(self, item_id: int) -> None: ...

    def save_stem(self, item_id: int, stem: str) -> None:
        """Keep the file-name stem given to an item, so a redo after a crash reuses it."""
        ...

    def load_requests(self, item_id: int) -> Mapping[str, str]:
        """Jobs submitted for an item and not yet finished (part -> the service's request id)."""
        ...

    def save_request(self, item_id: int, part: str, request_id: str | None) -> None:
        """Keep (or with None forget) a job's request id, durably, before it is polled."""
        ...
