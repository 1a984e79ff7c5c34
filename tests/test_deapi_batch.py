"""A batch through the local deAPI: YouTube links by URL (never fetched here), files uploaded in
pieces, the day limit pausing until 00:00 UTC and going on (fake clock)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.batch import Batch
from engine.clock import ManualClock
from engine.items import State
from engine.limits.dayquota import DayQuota
from engine.providers.deapi import DeapiTranscriber
from engine.settings import Settings
from tests.mediagen import write_tone
from tests.servers.deapi_api import DeapiServer, JobPlan
from tests.servers.media_host import MediaHost
from tests.test_headless_e2e import assert_no_traceback, run_cli

pytestmark = pytest.mark.timeout(120)
VIDEOS = [f"https://www.youtube.com/watch?v=deapiVideo{n}" for n in range(3)]


class RecordingProxy:
    """Where every connection to the outside world would go: it records and refuses each one.

    Set as HTTP(S)_PROXY, it sees any attempt (yt-dlp's included) to reach YouTube from here.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _refuse(self) -> None:
                proxy.seen.append(f"{self.command} {self.path}")
                self.send_error(502)

            do_GET = do_HEAD = do_POST = do_CONNECT = _refuse

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, recorder.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield recorder
    recorder.close()


def test_youtube_links_go_by_url_and_files_are_uploaded_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    write_tone(media / "episode.mp3", seconds=4.0, freq=300)
    long_file = write_tone(tmp_path / "lecture.wav", seconds=25.0, freq=500)
    short_file = write_tone(tmp_path / "memo.flac", seconds=3.0, freq=700)
    with MediaHost(media) as host, DeapiServer() as api:
        # One slow job that reports progress; the rest finish at their first poll.
        api.plan_for = lambda source: JobPlan(polls=2 if source == VIDEOS[0] else 0, seconds=9.0)
        episode = host.media_url("episode.mp3")
        run = run_cli(
            ["--headless", "--asr", "deapi", "--api-base", api.base, "--api-key", "dk-test",
             "--no-captions", "--formats", "md,srt,json", "--workers", "4",
             "--chunk-seconds", "10",
             *VIDEOS, str(long_file), str(short_file), episode],
            tmp_path, monkeypatch,
        )  # fmt: skip
        host_paths = host.paths()
    assert_no_traceback(run)
    assert run.code == 0, run.stderr
    assert [item["status"] for item in run.items] == ["done"] * 6
    # YouTube was never contacted from here: deAPI fetches the videos itself.
    assert proxy.seen == []
    counts = api.submit_counts()
    for url in VIDEOS:
        assert counts[url] == 1
    assert [s.endpoint for s in api.submits if s.source in VIDEOS] == ["vid2txt"] * 3
    # 25 s in 10 s pieces, 3 s in one, the podcast episode fetched here and uploaded in one.
    uploads = [s for s in api.submits if s.endpoint == "audiofile2txt"]
    assert len(uploads) == 3 + 1 + 1
    assert any(path.endswith("episode.mp3") for path in host_paths)
    video = run.item(VIDEOS[0])
    assert video["engine"] == "deapi" and video["method"] == "asr"
    assert [(s["start"], s["end"]) for s in run.segments(video)] == [(0, 5), (5, 9)]
    lecture = run.segments(run.item(str(long_file)))
    starts = [s["start"] for s in lecture]
    assert starts == sorted(starts) and lecture[-1]["end"] == pytest.approx(25.0, abs=0.1)
    assert max(s["start"] for s in lecture) >= 20.0  # the third piece is shifted into place


def test_a_failed_job_fails_its_item_with_details_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy
) -> None:
    with DeapiServer() as api:

        def plan(source: str) -> JobPlan:
            if source == VIDEOS[1]:
                return JobPlan(polls=0, outcome="error", error="Private video")
            return JobPlan(polls=0, result="url")

        api.plan_for = plan
        run = run_cli(
            ["--headless", "--asr", "deapi", "--api-base", api.base, "--api-key", "dk-test",
             "--no-captions", *VIDEOS],
            tmp_path, monkeypatch,
        )  # fmt: skip
    assert_no_traceback(run)
    assert run.code == 1
    failed = run.item(VIDEOS[1])
    assert failed["status"] == "failed" and "Private video" in failed["error"]
    assert [run.item(v)["status"] for v in (VIDEOS[0], VIDEOS[2])] == ["done", "done"]


def test_a_wrong_key_pauses_the_batch_instead_of_failing_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy
) -> None:
    with DeapiServer() as api:
        settings = Settings(asr="deapi", captions=False, api_keys=("wrong",))
        deapi = DeapiTranscriber(api.base, ["wrong"])
        batch = Batch(settings, tmp_path / "out", transcriber=deapi)
        batch.engine.add(_items(VIDEOS[:2]))
        batch.engine.start()
        _wait(lambda: batch.engine.blocked is not None)
        batch.engine.stop()
    assert "refused the key (401): Unauthorized user" in (batch.engine.blocked or "")
    assert all(item.state is State.QUEUED for item in batch.board.items())


def test_the_day_limit_pauses_until_midnight_utc_then_goes_on(
    tmp_path: Path, proxy: RecordingProxy
) -> None:
    midnight = datetime(2026, 12, 2, tzinfo=UTC).timestamp()
    clock = ManualClock(midnight - 90.0)  # 23:58:30 UTC
    with DeapiServer(rpd=2, clock=clock.now) as api:
        api.plan_for = lambda source: JobPlan(polls=0)
        settings = Settings(asr="deapi", captions=False, api_keys=("dk-test",), daily_limit=2)
        deapi = DeapiTranscriber(api.base, ["dk-test"], day_quota=DayQuota(2, clock=clock))
        batch = Batch(settings, tmp_path / "out", transcriber=deapi)
        cursor = batch.board.cursor()
        batch.engine.add(_items(VIDEOS))
        batch.engine.start()
        assert batch.engine.wait_finished(timeout=60)
        batch.engine.stop()
        submits = list(api.submits)
    assert [item.state for item in batch.board.items()] == [State.DONE] * 3
    # Two that day, none refused by deAPI, the third after 00:00 UTC.
    assert [s.status for s in submits] == [200, 200, 200]
    assert [s.t < midnight for s in submits] == [True, True, False]
    texts = [event.text for event in cursor.pull().events if event.kind == "daily-limit"]
    assert texts == ["deapi: daily limit reached (2/day), resumes at 00:00 UTC (2026-12-02)"]


def _items(urls: list[str]) -> list:
    from engine.items import Item

    return [Item(-1, source=url, kind="youtube", location=url) for url in urls]


def _wait(condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_item_progress_follows_the_job(tmp_path: Path, proxy: RecordingProxy) -> None:
    with DeapiServer() as api:
        api.plan_for = lambda source: JobPlan(polls=3)
        settings = Settings(asr="deapi", captions=False, api_keys=("dk-test",))
        deapi = DeapiTranscriber(api.base, ["dk-test"], poll_first=0.05, poll_cap=0.05)
        batch = Batch(settings, tmp_path / "out", transcriber=deapi)
        seen: set[int] = set()
        original = batch.board.update

        def spy(item_id: int, **changes: object):  # noqa: ANN202
            if "chunks_done" in changes:
                seen.add(int(changes["chunks_done"]))  # type: ignore[call-overload]
            return original(item_id, **changes)

        batch.board.update = spy  # type: ignore[method-assign]
        batch.engine.add(_items(VIDEOS[:1]))
        batch.engine.start()
        assert batch.engine.wait_finished(timeout=30)
        batch.engine.stop()
    item = batch.board.items()[0]
    assert item.state is State.DONE and item.progress == 1.0
    assert {33, 66}.issubset(seen), seen


def test_a_day_spent_elsewhere_on_the_account_pauses_until_midnight_too(
    tmp_path: Path, proxy: RecordingProxy
) -> None:
    midnight = datetime(2026, 12, 2, tzinfo=UTC).timestamp()
    clock = ManualClock(midnight - 4 * 3600.0)  # 20:00 UTC
    # deAPI allows one more today: another program already used the rest of the account's day.
    with DeapiServer(rpd=1, clock=clock.now) as api:
        api.plan_for = lambda source: JobPlan(polls=0)
        settings = Settings(asr="deapi", captions=False, api_keys=("dk-test",), daily_limit=10)
        deapi = DeapiTranscriber(api.base, ["dk-test"], day_quota=DayQuota(10, clock=clock))
        batch = Batch(settings, tmp_path / "out", transcriber=deapi)
        cursor = batch.board.cursor()
        batch.engine.add(_items(VIDEOS[:2]))
        batch.engine.start()
        assert batch.engine.wait_finished(timeout=60)
        batch.engine.stop()
        submits = list(api.submits)
    assert [item.state for item in batch.board.items()] == [State.DONE] * 2
    assert [(s.status, s.t < midnight) for s in submits] == [(200, True), (429, True), (200, False)]
    kinds = [event.kind for event in cursor.pull().events]
    assert "daily-limit" in kinds
