"""Recovery from faults that stop or thin out a run: a refused key, a full or unwritable disk,
a storm of random API faults, and media sites that fail each in their own way."""

from __future__ import annotations

import errno
import functools
import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import engine.sources.remote as remote
from engine.batch import Batch
from engine.inputs import read_inputs
from engine.items import State
from sessions.store import Store
from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost
from tests.servers.openai_api import Fault, OpenAIServer
from tests.test_faults import (
    CAUSES,
    Outcome,
    check_accounting,
    make_batch,
    run_batch,
    tone_text,
    wait_blocked,
)
from tui.cli import main

pytestmark = pytest.mark.timeout(60)

GOOD_KEY = "sk-good"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("media")
    return [
        write_tone(folder / f"tone-{freq}.wav", seconds, freq)
        for seconds, freq in ((1.0, 300), (1.5, 400), (1.0, 500), (2.0, 600))
    ]


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wide, plain console: rich must not wrap or colour the lines a person would read.
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("NO_COLOR", "1")


def api_flags(server: OpenAIServer, key: str) -> list[str]:
    return ["--headless", "--asr", "openai", "--api-base", server.base_url, "--api-key", key]


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def transcripts(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.md")}


# -- a refused key ------------------------------------------------------------------------------


def test_a_refused_key_stops_headless_once_and_a_resume_with_a_good_key_finishes(
    media: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], console: None
) -> None:
    out = tmp_path / "out"
    with OpenAIServer(keys=[GOOD_KEY]) as server:
        files = [str(f) for f in media]
        code = main([*files, *api_flags(server, "sk-revoked"), "--workers", "3", "-o", str(out)])
        err = capsys.readouterr().err
        refused = server.count(401)

        assert code == 1
        assert "stopped: the API refused the key (401)" in err
        assert "bulkscribe --resume" in err
        # Three workers may each meet the 401 once; no item is tried twice and none is failed.
        assert 1 <= refused <= 3 and server.count() == refused
        assert manifest(out)["counts"] == {"queued": len(media)}
        assert transcripts(out) == set()
        with Store.open() as store:
            info = store.latest_unfinished()
            assert info is not None
            kinds = [event.kind for event in store.load_events(info.id)]
            items = store.load_items(info.id)
        assert kinds.count("blocked") == 1
        assert {item.state for item in items} == {State.QUEUED}

        code = main(["--resume", *api_flags(server, GOOD_KEY), "--retries", "2"])
        err = capsys.readouterr().err

    assert code == 0, err
    assert "stopped:" not in err
    rows = manifest(out)["items"]
    assert [row["status"] for row in rows] == ["done"] * len(media)
    for row in rows:
        assert tone_text(Path(row["source"])) in (out / row["outputs"]["md"]).read_text()


# -- a full or unwritable output folder -------------------------------------------------------------


class FailingWrites:
    """Stands in for an os function: after ``allow`` good calls into ``folder``, raise ``err``."""

    def __init__(self, real: Callable[..., object], folder: Path, err: int, allow: int) -> None:
        self.real, self.folder, self.err, self.allow = real, folder, err, allow

    def __call__(self, path: object, *args: object, **kwargs: object) -> object:
        # os.replace(src, dst): the destination decides; os.open(path, ...): the path does.
        target = Path(os.fsdecode(args[0] if self.real is os.replace else path))  # type: ignore[arg-type]
        # One call decides per file written: its temp file's open, or its rename into place.
        # (The empty claim a new name takes after its temp file is part of the same file.)
        deciding = self.real is os.replace or target.name.endswith(".tmp")
        reports = target.name.startswith(("manifest", "items"))
        if target.parent == self.folder and deciding and not reports:
            if self.allow <= 0:
                raise OSError(self.err, os.strerror(self.err), str(target))
            self.allow -= 1
        return self.real(path, *args, **kwargs)


@pytest.mark.parametrize(
    ("call", "err", "reason"),
    [
        ("replace", errno.ENOSPC, "disk full while writing"),
        ("open", errno.EACCES, "output folder not writable"),
        ("open", errno.EROFS, "output folder not writable"),
    ],
)
def test_a_full_or_unwritable_disk_pauses_the_engine_and_nothing_unwritten_is_done(
    media: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    call: str,
    err: int,
    reason: str,
) -> None:
    out = tmp_path / "out"
    with OpenAIServer() as server:
        batch = make_batch(server, out, workers=2)
        failing = FailingWrites(getattr(os, call), out, err, allow=2)
        monkeypatch.setattr(os, call, failing)
        cursor = batch.board.cursor()
        batch.add_sources(read_inputs([str(f) for f in media]).sources)
        batch.engine.start()
        blocked = wait_blocked(batch)

        assert reason in blocked
        items = batch.board.items()
        done = [item for item in items if item.state is State.DONE]
        assert len(done) == 2
        assert {item.state for item in items if item not in done} == {State.QUEUED}
        assert transcripts(out) == {Path(item.outputs["md"]).name for item in done}
        assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
        stuck = [item for item in items if item.error_class == "output"]
        assert stuck and all(reason in (item.error or "") and not item.outputs for item in stuck)
        blocked_events = [e for e in cursor.pull().events if e.kind == "blocked"]
        assert len(blocked_events) == 1 and reason in blocked_events[0].text

        monkeypatch.setattr(os, call, failing.real)  # space freed, permission given back
        batch.engine.resume()
        assert batch.engine.wait_finished(20)
        batch.engine.stop()
        batch.close()
        outcome = Outcome(batch, list(cursor.pull().events), _report(batch))

    check_accounting(outcome, media)
    assert outcome.manifest["counts"] == {"done": len(media)}


def _report(batch: Batch) -> dict:
    return json.loads(batch.write_reports().read_text())


def test_an_output_folder_replaced_by_a_file_mid_run_pauses_until_it_is_back(
    media: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with OpenAIServer() as server:
        batch = make_batch(server, out, workers=1)
        batch.add_sources(read_inputs([str(f) for f in media[:2]]).sources)
        batch.engine.start()
        assert batch.engine.wait_finished(20)
        written = transcripts(out)
        assert len(written) == 2

        # The folder is moved away (an unmounted drive, a careless script) and a file takes its place.
        out.rename(tmp_path / "moved")
        out.write_text("not a folder")
        batch.add_sources(read_inputs([str(f) for f in media[2:]]).sources)
        blocked = wait_blocked(batch)
        assert blocked.startswith(f"output folder is a file: {out}")
        assert [item.state for item in batch.board.items()] == [State.DONE] * 2 + [State.QUEUED] * 2

        out.unlink()
        (tmp_path / "moved").rename(out)
        batch.engine.resume()
        assert batch.engine.wait_finished(20)
        batch.engine.stop()
        batch.close()
        outcome = Outcome(batch, [], _report(batch))

    check_accounting(outcome, media)
    assert written < transcripts(out) and len(transcripts(out)) == len(media)


def test_headless_on_a_full_disk_says_stopped_and_a_resume_finishes(
    media: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    console: None,
) -> None:
    out = tmp_path / "out"
    out.mkdir()

    def full(src: object, dst: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", os.fsdecode(dst))  # type: ignore[arg-type]

    real = os.replace
    with OpenAIServer() as server:
        monkeypatch.setattr(os, "replace", full)
        code = main([*(str(f) for f in media), *api_flags(server, GOOD_KEY), "-o", str(out)])
        err = capsys.readouterr().err
        monkeypatch.setattr(os, "replace", real)
        assert code == 1 and "stopped: disk full" in err
        assert main(["--resume", *api_flags(server, GOOD_KEY)]) == 0
    assert manifest(out)["counts"] == {"done": len(media)}


# -- a storm of random API faults -----------------------------------------------------------------

SEED = int(os.environ.get("FAULT_SEED", "5"))
# Faults the plan draws from; a refused key is left out because it pauses the whole run (above).
MENU = (
    Fault("500"),
    Fault("502"),
    Fault("503"),
    Fault("reset"),
    Fault("truncated"),
    Fault("non-json"),
    Fault("drip", drip_bytes=128, drip_interval=0.02),
    Fault("timeout", hold=2.0),
    Fault("429", retry_after=1),
    Fault("413"),
)


class Plan:
    """About one request in three meets a fault; the choice depends only on seed and request number."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.dealt: list[str] = []

    def __call__(self, index: int, key: str | None) -> Fault | None:
        draw = random.Random(self.seed * 100_003 + index)
        fault = draw.choice(MENU) if draw.random() < 0.35 else None
        if fault is not None:
            self.dealt.append(fault.name)
        return fault


def many_files(media: Sequence[Path], folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    files = []
    for i in range(count):
        source = media[i % len(media)]
        target = folder / f"{source.stem}-{i:02d}{source.suffix}"
        target.write_bytes(source.read_bytes())
        files.append(target)
    return files


def test_thirty_items_under_random_faults_all_end_done_or_failed_with_a_named_cause(
    media: list[Path], tmp_path: Path
) -> None:
    files = many_files(media, tmp_path / "many", 30)
    with OpenAIServer() as server:
        server.fault_fn = plan = Plan(SEED)
        batch = make_batch(server, tmp_path / "out", workers=4, timeout=1.0)
        outcome = run_batch(batch, files, timeout=50)

    check_accounting(outcome, files)
    counts = outcome.manifest["counts"]
    assert set(counts) <= {"done", "failed"} and sum(counts.values()) == 30
    assert counts == dict(sorted(outcome.batch.counts().items()))
    causes = [CAUSES[name] for name in ("500", "502", "503", "429", "413", "timeout")]
    causes += [CAUSES["reset"], CAUSES["non-json"]]
    for item in outcome.items():
        if item.state is State.FAILED:
            assert any(cause in (item.error or "") for cause in causes), item.error
            assert item.error_class in ("provider", "too-large", "rate-limited")
    # The plan really was hostile: many requests met a fault, and each fault left a trace.
    print(f"seed {SEED}: faults dealt {sorted(plan.dealt)}; {counts}")
    assert len(plan.dealt) >= 8
    retried = len(outcome.texts("retry")) + len(outcome.texts("rechunk"))
    assert retried + counts.get("failed", 0) >= len(plan.dealt) - plan.dealt.count("drip")
    assert counts.get("done", 0) >= 20  # two retries ride out most single faults


# -- media sites that fail ------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Iterator[MediaHost]:
    root = tmp_path / "site"
    root.mkdir()
    for name, freq in (("tone", 300), ("flaky", 400), ("hang", 500)):
        write_tone(root / f"{name}.mp3", 1.0, freq)
    (root / "plain.html").write_text(
        "<html><head><title>Notes</title></head><body>Hi.</body></html>"
    )
    with MediaHost(root) as host:
        yield host


def test_each_failing_media_link_gets_its_own_reason_and_the_batch_goes_on(
    site: MediaHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A silent host is given up on after half a second instead of yt-dlp's usual 30.
    monkeypatch.setattr(remote, "fetch_info", functools.partial(remote.fetch_info, timeout=0.5))
    monkeypatch.setattr(
        remote, "download_audio", functools.partial(remote.download_audio, timeout=0.5)
    )
    site.fail_next(1, 503, path="/media/flaky.mp3")
    site.hang_next(10, 1.5, path="/media/hang.mp3")
    links = {
        "tone": site.media_url("tone.mp3"),
        "missing": site.media_url("missing.mp3"),
        "forbidden": site.url("status/403"),
        "broken": site.url("status/500"),
        "hang": site.media_url("hang.mp3"),
        "page": site.media_url("plain.html"),
        "flaky": site.media_url("flaky.mp3"),
    }
    expected = {
        "missing": ("not found at this URL", "HTTP Error 404", 1),
        "forbidden": ("access refused by the host", "HTTP Error 403", 1),
        "broken": ("network problem", "HTTP Error 500", 3),
        "hang": ("network problem", "timed out", 3),
        "page": ("no media found at this URL", "Unsupported URL", 1),
    }
    with OpenAIServer() as server:
        batch = make_batch(server, tmp_path / "out", workers=3, media_rate_limit="100/s")
        outcome = run_batch(batch, list(links.values()), timeout=50)

    items = {name: outcome.by_name(link) for name, link in links.items()}
    for name in ("tone", "flaky"):
        item = items[name]
        assert item.state is State.DONE, item.error
        assert "tone" in Path(item.outputs["md"]).read_text()
    assert items["flaky"].attempts == 2  # the 503 was retried once
    for name, (reason, raw, attempts) in expected.items():
        item = items[name]
        assert item.state is State.FAILED
        assert item.error_class == "source"
        assert item.error is not None and item.error.startswith(reason) and raw in item.error
        assert item.attempts == attempts, name
        assert not item.outputs
    assert outcome.manifest["counts"] == {"done": 2, "failed": 5}
    assert len(outcome.manifest["items"]) == len(links)


# -- what a person reads in a headless run ------------------------------------------------------


def test_headless_shows_429s_retries_and_failures_and_exits_1(
    media: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], console: None
) -> None:
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"this is not audio at all" * 50)
    out = tmp_path / "out"
    with OpenAIServer() as server:
        server.inject("429", 1, retry_after=1)
        server.inject("503", 1)
        code = main(
            [str(media[0]), str(bad), *(str(f) for f in media[1:])]
            + [*api_flags(server, GOOD_KEY), "--retries", "2", "--rate-limit", "50/s"]
            + ["-o", str(out)]
        )
        err = capsys.readouterr().err

    assert code == 1
    assert "429 asr: 429, pausing 1.0s and slowing down" in err
    assert "retry attempt 1 failed (rate limited by the API (429)" in err
    # The 503 met the same request's second try: both tries are in the log.
    assert "retry attempt 2 failed (the API failed (503)" in err
    assert f"✗ {bad}: not a media file or corrupt: broken.mp3" in err
    counts = manifest(out)["counts"]
    assert counts == {"done": len(media), "failed": 1}
    assert len(transcripts(out)) == len(media)
