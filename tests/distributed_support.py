"""What the in-process distributed tests share: one session's streams on a real Redis, settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from engine.distributed.streams import Streams, connect
from engine.distributed.wire import Keys
from engine.settings import Settings
from tests.servers.openai_api import OpenAIServer
from tests.servers.redis_server import RedisServer


@contextlib.contextmanager
def session_streams(tmp: Path, session: str = "s1") -> Iterator[Streams]:
    with RedisServer(tmp / "redis") as server:
        yield Streams(connect(server.url), Keys(session))


def api_settings(api: OpenAIServer) -> Settings:
    return Settings(asr="openai", api_base=api.base_url, api_keys=("sk-test",), retries=2)
