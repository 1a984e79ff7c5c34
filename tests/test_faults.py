"""Every fault a transcription API can throw, met by a real batch: items end right, nothing is lost."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.batch import Batch
from engine.events import Event
from engine.inputs import read_inputs
from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.limits.services import Service
from engine.limits.stats import LimiterStats
from engine.providers.openai import OpenAITranscriber
from engine.settings import Settings
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

pytestmark = pytest.mark.timeout(60)

KEY = "sk-test"
# What the client says for each fault: the words a person reads in the item's error or the log.
CAUSES = {
    "500": "the API failed (500)",
    "502": "the API failed (502)",
    "503": "the API failed (503)",
    "429": "rate limited by the API (429)",
    "401": "the API refused the key (401)",
    "413": "too large for the API (413)",
    "timeout": "did not answer in time",
    "reset": "network problem",
    "truncated": "network problem",
    "non-json": "instead of JSON",
}
# (seconds, frequency): the fake recogniser answers "tone <freq> hertz" for each.
TONES = ((1.0, 300), (2.0, 400), (1.5, 500), (1.0, 600))


class QuotaServer:
    """A minimal API on 127.0.0.1 for an account out of credit: every upload gets OpenAI's 429."""

    BODY = json.dumps(
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing "
                "details.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        }
    ).encode()

    def __init__(self) -> None:
        self.posts = 0
        quota = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                quota.posts += 1
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(QuotaServer.BODY)))
                self.end_headers()
                self.wfile.write(QuotaServer.BODY)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def __enter__(self) -> QuotaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("media")
    suffixes = (".wav", ".flac", ".mp3", ".wav")
    return [
        write_tone(folder / f"tone-{freq}{suffix}", seconds, freq)
        for (seconds, freq), suffix in zip(TONES, suffixes, strict=True)
    ]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as api:
        yield api


def make_batch(
    server: OpenAIServer | QuotaServer,
    out: Path,
    *,
    workers: int = 3,
    timeout: float = 5.0,
    rate: str = "50/s",
    **settings: object,
) -> Batch:
    """A real batch against the local API, with a short client timeout and short backoff."""
    config = Settings(
        asr="openai",
        api_base=server.base_url,
        api_keys=(KEY,),
        retries=2,
        rate_limit=rate,
        workers=workers,
        parallel=workers > 1,
        **settings,  # type: ignore[arg-type]
    )
    client = OpenAITranscriber(server.base_url, [KEY], timeout=timeout)
    batch = Batch(config, out, transcriber=client)
    batch.engine.backoff = 0.02  # retries at once: the test is about outcomes, not waiting
    return batch


@dataclass
class Outcome:
    """What a person can see once a batch has run: items, the event log and the manifest."""

    batch: Batch
    events: list[Event]
    manifest: dict

    def items(self) -> list[Item]:
        return self.batch.board.items()

    def by_name(self, path: Path | str) -> Item:
        return next(item for item in self.items() if item.source == str(path))

    def texts(self, kind: str, item_id: int | None = None) -> list[str]:
        return [
            e.text
            for e in self.events
            if e.kind == kind and (item_id is None or e.item_id == item_id)
        ]


def run_batch(batch: Batch, files: Sequence[Path | str], timeout: float = 30.0) -> Outcome:
    """Queue the files (or links), run to the end, write the reports; the engine is stopped afterwards."""
    cursor = batch.board.cursor()
    batch.add_sources(read_inputs([str(f) for f in files]).sources)
    batch.engine.start()
    try:
        assert batch.engine.wait_finished(timeout), "the batch did not finish"
    finally:
        batch.engine.stop()
        batch.close()
    events = list(cursor.pull().events)
    manifest = json.loads(batch.write_reports().read_text())
    return Outcome(batch, events, manifest)


def tone_text(path: Path) -> str:
    return f"tone {path.stem.split('-')[1]} hertz"


def check_accounting(outcome: Outcome, files: Sequence[Path]) -> None:
    """No item lost, none marked done without its transcript on disk, none failed silently."""
    rows = outcome.manifest["items"]
    assert sorted(row["source"] for row in rows) == sorted(str(f) for f in files)
    assert sum(outcome.manifest["counts"].values()) == len(files)
    folder = outcome.batch.output_dir
    for item in outcome.items():
        assert item.state in (State.DONE, State.FAILED), item
        if item.state is State.DONE:
            assert all(
                Path(p).is_file() and Path(p).parent == folder for p in item.outputs.values()
            )
            assert tone_text(Path(item.source)) in Path(item.outputs["md"]).read_text()
            assert item.error is None
        else:
            assert not item.outputs and item.error
            assert any(text.endswith(item.error) for text in outcome.texts("failed", item.id))
    on_disk = {p.name for p in folder.iterdir()} - {"manifest.json", "items.csv"}
    written = {Path(p).name for i in outcome.items() for p in i.outputs.values()}
    assert on_disk == written  # no temp files, no orphans


def wait_blocked(batch: Batch, timeout: float = 20.0) -> str:
    """Wait until the engine has paused itself and nothing is in flight any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = batch.board.count(State.RUNNING) + batch.board.count(State.WAITING)
        if batch.engine.blocked and not busy:
            return batch.engine.blocked
        time.sleep(0.02)
    raise AssertionError("the engine did not pause itself")


def asr_limiter(batch: Batch) -> Limiter:
    return batch.limits[Service.ASR]


# -- transient faults: retried, then done ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        ("500", {}),
        ("502", {}),
        ("503", {}),
        ("reset", {}),
        ("truncated", {}),
        ("non-json", {}),
        ("timeout", {"hold": 3.0}),
    ],
)
def test_a_transient_fault_is_retried_and_every_item_finishes(
    server: OpenAIServer, media: list[Path], tmp_path: Path, fault: str, options: dict
) -> None:
    server.inject(fault, 2, **options)
    batch = make_batch(server, tmp_path / "out", timeout=1.0)
    outcome = run_batch(batch, media)

    assert [item.state for item in outcome.items()] == [State.DONE] * len(media)
    check_accounting(outcome, media)
    retries = outcome.texts("retry")
    assert len(retries) == 2
    assert all(CAUSES[fault] in text and "retrying in" in text for text in retries)
    answered = [a for a in server.arrivals if a.status == 200]
    assert len(answered) >= len(media)  # truncated and non-json replies are logged as 200 too
    if fault in ("500", "502", "503"):
        assert server.count(int(fault)) == 2
    if fault == "reset":
        assert server.count(0) == 2  # dropped without an answer


def test_a_slow_drip_that_keeps_coming_is_not_cut_off(
    server: OpenAIServer, media: list[Path], tmp_path: Path
) -> None:
    # Each reply trickles in over about 1.5 s, longer than the 1 s client timeout, but bytes
    # keep arriving: the timeout is for silence, not for the whole answer.
    server.inject("drip", 2, drip_bytes=64, drip_interval=0.3)
    batch = make_batch(server, tmp_path / "out", timeout=1.0)
    outcome = run_batch(batch, media)

    assert [item.state for item in outcome.items()] == [State.DONE] * len(media)
    check_accounting(outcome, media)
    assert outcome.texts("retry") == []
    assert server.count() == len(media) and server.pending_faults == 0


# -- faults that outlast the retries: failed with the cause, the batch goes on ------------------


@pytest.mark.parametrize(
    ("fault", "options"),
    [("503", {}), ("reset", {}), ("non-json", {}), ("timeout", {"hold": 2.0})],
)
def test_a_fault_that_outlasts_the_retries_fails_one_item_and_the_rest_finish(
    server: OpenAIServer, media: list[Path], tmp_path: Path, fault: str, options: dict
) -> None:
    # One worker: the first item's three tries (1 + 2 retries) take all three faults.
    server.inject(fault, 3, **options)
    batch = make_batch(server, tmp_path / "out", workers=1, timeout=0.8)
    outcome = run_batch(batch, media)

    first, *rest = outcome.items()
    assert first.state is State.FAILED
    assert first.error is not None and CAUSES[fault] in first.error
    assert [item.state for item in rest] == [State.DONE] * len(rest)
    assert len(outcome.texts("retry", first.id)) == 2  # attempts 1 and 2 failed, 3 was the last
    check_accounting(outcome, media)
    assert outcome.manifest["counts"] == {"done": len(media) - 1, "failed": 1}
    row = next(row for row in outcome.manifest["items"] if row["status"] == "failed")
    assert CAUSES[fault] in row["error"] and row["outputs"] == {}


# -- 429: everyone pauses for Retry-After, and the rate drops -------------------------------------


@dataclass(frozen=True)
class Throttle:
    at: float  # time.monotonic(), the clock the server's arrival log uses
    pause: float
    stats: LimiterStats


def record_throttles(limiter: Limiter) -> list[Throttle]:
    """Note each 429 pause as the engine takes it, with the limiter's state right after."""
    seen: list[Throttle] = []
    throttle = limiter.throttle

    def recording(retry_after: float | None) -> float:
        pause = throttle(retry_after)
        seen.append(Throttle(time.monotonic(), pause, limiter.stats()))
        return pause

    limiter.throttle = recording  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize(
    ("fault", "retry_after", "pause_range"),
    [
        ("429", 2, (2.0, 2.0)),
        ("429-date", 2, (0.9, 2.0)),  # an HTTP date has whole seconds: up to one is lost
        ("429-no-header", 1, (1.0, 1.0)),  # no header: a quarter of the 1 s window, at least 1 s
    ],
)
def test_a_429_pauses_every_worker_then_slows_down(
    media: list[Path],
    tmp_path: Path,
    fault: str,
    retry_after: int,
    pause_range: tuple[float, float],
) -> None:
    copies = tmp_path / "copies"
    copies.mkdir()
    files = [*media, *(write_copy(copies, f) for f in media[:2])]
    with OpenAIServer(latency=0.2) as server:
        server.inject(fault, 1, retry_after=retry_after)
        batch = make_batch(server, tmp_path / "out", workers=3)
        throttles = record_throttles(asr_limiter(batch))
        outcome = run_batch(batch, files)
        arrivals = server.arrivals

    assert [item.state for item in outcome.items()] == [State.DONE] * len(files)
    check_accounting(outcome, files)
    assert len(throttles) == 1
    mark = throttles[0]
    low, high = pause_range
    assert low <= mark.pause <= high
    # The effective rate was halved at once and shows in the limiter's statistics.
    assert mark.stats.factor == 0.5
    assert mark.stats.effective_per_min == mark.stats.limit_per_min / 2
    assert mark.stats.paused_for > 0
    # Nothing reached the API while everyone was paused. Requests already on the wire when the
    # 429 came back may land in the first moments; after that the log is silent.
    quiet = [a for a in arrivals if mark.at + 0.25 <= a.t <= mark.at + mark.pause - 0.05]
    assert quiet == []
    later = [a for a in arrivals if a.t > mark.at + mark.pause - 0.05]
    assert len(later) >= 2  # the other workers waited, then carried on
    notes = outcome.texts("429")
    assert len(notes) == 1 and f"pausing {mark.pause:.1f}s and slowing down" in notes[0]
    assert CAUSES["429"] in outcome.texts("retry")[0]
    assert server.count(429) == 1


def write_copy(folder: Path, source: Path) -> Path:
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return target


# -- 413: cut smaller and send again ------------------------------------------------------------


def test_a_413_is_cut_into_smaller_chunks_and_sent_again(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    files = [
        write_tone(folder / "tone-300.wav", 6.0, 300),
        write_tone(folder / "tone-400.flac", 6.0, 400),
        write_tone(folder / "tone-500.wav", 1.0, 500),
    ]
    # A self-hosted server that accepts far less than the 25 MB the client assumes.
    with OpenAIServer(max_upload_bytes=40_000) as server:
        batch = make_batch(
            server, tmp_path / "out", chunk_seconds=10, overlap=0.5, formats=("md", "json")
        )
        outcome = run_batch(batch, files)
        arrivals = server.arrivals

    check_accounting(outcome, files)
    assert [item.state for item in outcome.items()] == [State.DONE] * 3
    refused = [a for a in arrivals if a.status == 413]
    accepted = [a for a in arrivals if a.status == 200]
    assert len(refused) == 2  # the two long items, once each
    assert len(accepted) >= 5  # each long item now goes in two or more pieces, plus the short one
    assert max(a.size for a in accepted) < min(a.size for a in refused)
    for path in files[:2]:
        item = outcome.by_name(path)
        assert item.chunks_total >= 2 and item.chunks_done == item.chunks_total
        assert item.duration == pytest.approx(6.0, abs=0.1)
        # The pieces are stitched back in order and still run to the end of the audio.
        segments = json.loads(Path(item.outputs["json"]).read_text())["segments"]
        starts = [s["start"] for s in segments]
        # Word-timed segments end with their last word, which the server places up to a word
        # before the segment's end: the timeline reaches the last second of the audio.
        assert starts == sorted(starts) and segments[-1]["end"] == pytest.approx(6.0, abs=1.0)
        assert all(s["text"] in tone_text(path) for s in segments)
        assert tone_text(path) in {s["text"] for s in segments}
    assert len(outcome.texts("rechunk")) == 2
    assert all("too large" in text for text in outcome.texts("rechunk"))


def test_a_413_that_no_cut_can_fit_fails_the_item_naming_the_size(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    files = [
        write_tone(folder / "tone-300.wav", 3.0, 300),
        write_tone(folder / "tone-500.wav", 0.5, 500),
    ]
    # Even pieces of a second and a half (the shortest that still carry the overlap) are refused.
    with OpenAIServer(max_upload_bytes=14_000) as server:
        batch = make_batch(server, tmp_path / "out", workers=1, chunk_seconds=10, overlap=0.5)
        outcome = run_batch(batch, files)

    check_accounting(outcome, files)
    long, short = outcome.items()
    assert long.state is State.FAILED and short.state is State.DONE
    assert long.error_class == "too-large"
    assert long.error is not None and CAUSES["413"] in long.error


# -- an exhausted quota: like a refused key, it pauses the run ------------------------------------


def test_an_exhausted_quota_pauses_the_run_instead_of_failing_every_item(
    media: list[Path], tmp_path: Path
) -> None:
    with QuotaServer() as api:
        batch = make_batch(api, tmp_path / "out", workers=2)
        cursor = batch.board.cursor()
        batch.add_sources(read_inputs([str(f) for f in media]).sources)
        batch.engine.start()
        blocked = wait_blocked(batch)
        batch.engine.stop()
        batch.close()
        posts = api.posts

    assert blocked.startswith(
        "the API key has no quota left (429): You exceeded your current quota"
    )
    assert "billing" in blocked
    assert [item.state for item in batch.board.items()] == [State.QUEUED] * len(media)
    assert 1 <= posts <= 2  # one try per worker: no retries, no pauses, no failed items
    kinds = [event.kind for event in cursor.pull().events]
    assert kinds.count("blocked") == 1 and "failed" not in kinds and "429" not in kinds
    assert not list((tmp_path / "out").glob("*.md"))
