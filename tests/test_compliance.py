"""Real engine, real limiter, real clock and real HTTP: the local API never sees a window over the limit."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

import pytest

from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.limits.pools import INDEPENDENT, SHARED
from engine.providers.base import Chunk
from engine.providers.openai import SERVICE, OpenAITranscriber
from engine.run.engine import Engine
from engine.run.job import Job
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

KEYS = ["sk-key-a", "sk-key-b", "sk-key-c"]


@pytest.fixture(scope="module")
def chunk(tmp_path_factory: pytest.TempPathFactory) -> Chunk:
    path = write_tone(tmp_path_factory.mktemp("compliance") / "chunk.flac", seconds=0.3)
    return Chunk(0, 0.0, 0.3, path)


def transcribe_work(client: OpenAITranscriber, chunk: Chunk) -> Callable[[Job], None]:
    """What a pipeline does per chunk: send one request with the worker's key, taking the permit
    once the request is built (as engine/pipeline.py does), and counted from when it left."""

    def work(job: Job) -> None:
        client.transcribe(
            chunk, key_index=job.key_index(SERVICE), before_send=lambda: job.acquire(SERVICE)
        )

    return work


@pytest.fixture
def run() -> Iterator[Callable[..., tuple[Engine, OpenAIServer]]]:
    started: list[tuple[Engine, OpenAIServer, OpenAITranscriber]] = []

    def start(
        server: OpenAIServer,
        chunk: Chunk,
        limiter: Limiter,
        items: int,
        work: Callable[[OpenAITranscriber, Chunk], Callable[[Job], None]] = transcribe_work,
        **engine_args: object,
    ) -> tuple[Engine, OpenAIServer]:
        server.start()
        client = OpenAITranscriber(server.base_url, KEYS, response_format="json", timeout=10.0)
        engine = Engine(
            work(client, chunk),
            limiters=[limiter],
            key_counts={SERVICE: len(KEYS)},
            retries=0,
            **engine_args,  # type: ignore[arg-type]
        )
        engine.add(Item(-1, f"chunk-{i}") for i in range(items))
        started.append((engine, server, client))
        engine.start()
        return engine, server

    yield start
    for engine, server, client in started:
        engine.stop(timeout=5.0)
        client.close()
        server.stop()


def failures(engine: Engine) -> list[str]:
    return [f"{item.source}: {item.error}" for item in engine.board.select([State.FAILED])]


def arrival_span(server: OpenAIServer) -> float:
    times = [a.t for a in server.arrivals if a.status == 200]
    return max(times) - min(times)


def test_shared_mode_keeps_eight_workers_within_the_limit(run, chunk) -> None:
    server = OpenAIServer(limit=20, window=2.0)
    limiter = Limiter(SERVICE, "20/2s", mode=SHARED)
    engine, server = run(server, chunk, limiter, 50, workers=8)
    assert engine.wait_finished(15.0)
    assert failures(engine) == []
    assert engine.board.count(State.DONE) == 50
    assert server.count(429) == 0
    assert server.count(200) == 50
    assert server.max_in_window(2.0) <= 20
    # 50 requests at 20 per 2 s cannot all go out within two windows: the limit did bind.
    assert arrival_span(server) >= 4.0


@pytest.mark.parametrize("stall", [0.3, 0.6, 1.2])
def test_a_worker_stalled_between_permit_and_send_cannot_push_a_window_over(
    run, chunk, stall: float
) -> None:
    """What a loaded machine does now and then, done on purpose: a third of the first window's
    workers are held up after their permit and before their request leaves, far longer than the
    limiter's guard (the flake this reproduces was a 0.2 s stall against a 0.1 s guard). Counted
    from their grant, they would share the server's window with all of the next window's."""
    server = OpenAIServer(limit=20, window=2.0)
    limiter = Limiter(SERVICE, "20/2s", mode=SHARED)

    granted = itertools.count()

    def stalled_work(client: OpenAITranscriber, chunk: Chunk) -> Callable[[Job], None]:
        def work(job: Job) -> None:
            def permit_then_stall() -> object:
                permit = job.acquire(SERVICE)
                nth = next(granted)
                if nth < 20 and nth % 3 == 0:
                    threading.Event().wait(stall)
                return permit

            key = job.key_index(SERVICE)
            client.transcribe(chunk, key_index=key, before_send=permit_then_stall)

        return work

    engine, server = run(server, chunk, limiter, 50, stalled_work, workers=8)
    assert engine.wait_finished(30.0)
    assert failures(engine) == []
    assert server.count(429) == 0
    assert server.count(200) == 50
    assert server.max_in_window(2.0) <= 20
    assert arrival_span(server) >= 4.0


def test_independent_mode_gives_each_key_its_own_limit(run, chunk) -> None:
    server = OpenAIServer(limit=10, window=2.0, per_key=True, keys=KEYS)
    limiter = Limiter(SERVICE, "10/2s", mode=INDEPENDENT)
    engine, server = run(server, chunk, limiter, 60, workers=6)
    assert engine.wait_finished(15.0)
    assert failures(engine) == []
    assert engine.board.count(State.DONE) == 60
    assert server.count(429) == 0
    for key in KEYS:
        assert server.max_in_window(2.0, key=key) <= 10
    # Three keys together send more than one key's limit: the pools really are separate.
    assert server.max_in_window(2.0) > 10


def test_live_changes_never_push_a_window_over_the_limit(run, chunk) -> None:
    server = OpenAIServer(limit=20, window=2.0, per_key=True, keys=KEYS)
    limiter = Limiter(SERVICE, "20/2s", mode=SHARED)
    engine, server = run(server, chunk, limiter, 400, workers=4)
    changes: list[Callable[[], object]] = [
        lambda: engine.set_rate_mode(INDEPENDENT),
        lambda: engine.set_workers(8),
        lambda: engine.set_rate_spec("12/2s"),
        lambda: engine.set_rate_mode(SHARED),
        lambda: engine.set_workers(2),
        lambda: engine.set_rate_spec("20/2s"),
        lambda: engine.set_rate_mode(INDEPENDENT),
    ]
    stop = threading.Event()
    for change in changes:
        if stop.wait(0.9):
            break
        change()
    engine.stop(timeout=5.0)
    assert server.count(429) == 0
    assert server.count(200) >= 40
    for key in KEYS:
        assert server.max_in_window(2.0, key=key) <= 20
    # The changes happened and the engine saw them.
    assert limiter.mode == INDEPENDENT
    assert str(limiter.spec) == "20/2s"
    assert failures(engine) == []
