"""Chunk checkpoints of a distributed item, kept in Redis: whoever redoes it starts from the last."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from engine.distributed.streams import Streams
from engine.providers.base import Chunk
from engine.segments import Segment, Word


class RedisCheckpoints:
    """The pipeline's Checkpoints on a worker; ``coord_id`` maps its local ids to the session's."""

    def __init__(self, streams: Streams, coord_id: Callable[[int], int]) -> None:
        self.streams = streams
        self.coord_id = coord_id

    def _key(self, item_id: int) -> str:
        return self.streams.keys.chunks(self.coord_id(item_id))

    def load(self, item_id: int) -> Mapping[int, tuple[float, float, list[Segment], str | None]]:
        out = {}
        for index, raw in self.streams.client.hgetall(self._key(item_id)).items():
            data = json.loads(raw)
            segments = [
                Segment(s[0], s[1], s[2], tuple(Word(*w) for w in s[3])) for s in data["segments"]
            ]
            out[int(index)] = (data["start"], data["end"], segments, data["language"])
        return out

    def save(
        self, item_id: int, chunk: Chunk, segments: Sequence[Segment], language: str | None
    ) -> None:
        data = {
            "start": chunk.start,
            "end": chunk.end,
            "language": language,
            "segments": [
                [s.start, s.end, s.text, [[w.start, w.end, w.text] for w in s.words]]
                for s in segments
            ],
        }
        self.streams.client.hset(self._key(item_id), str(chunk.index), json.dumps(data))

    def drop(self, item_id: int) -> None:
        self.streams.client.delete(self._key(item_id))

    def save_stem(self, item_id: int, stem: str) -> None:
        """Names are the coordinator's business: it writes the files."""

    def load_requests(self, item_id: int) -> Mapping[str, str]:
        return dict(self.streams.client.hgetall(self.streams.keys.requests(self.coord_id(item_id))))

    def save_request(self, item_id: int, part: str, request_id: str | None) -> None:
        key = self.streams.keys.requests(self.coord_id(item_id))
        if request_id is None:
            self.streams.client.hdel(key, part)
        else:
            self.streams.client.hset(key, part, request_id)
