"""Whole batches against servers that answer as OpenAI and Groq do: models, language, quotas, outages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from engine.batch import Batch
from engine.inputs import read_inputs
from engine.items import State
from engine.limits.services import Service
from engine.settings import Settings
from tests.mediagen import write_tone
from tests.outage_support import come_back, free_port, start_until_offline
from tests.servers.openai_api import OpenAIServer

KEY = "sk-test"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("quota-media")
    return [write_tone(folder / f"tone-{f}.wav", 1.5, f) for f in (300.0, 500.0, 700.0, 900.0)]


def batch_for(base: str, out: Path, **settings: object) -> Batch:
    values: dict[str, object] = {"workers": 2, "parallel": True, "formats": ("md", "srt", "json")}
    config = Settings(asr="openai", api_base=base, api_keys=(KEY,), **(values | settings))  # type: ignore[arg-type]
    batch = Batch(config, out)
    batch.engine.backoff = 0.02
    return batch


def run(batch: Batch, media: list[Path], timeout: float = 60.0) -> list:
    cursor = batch.board.cursor()
    batch.add_sources(read_inputs([str(m) for m in media]).sources)
    batch.engine.start()
    assert batch.engine.wait_finished(timeout)
    batch.engine.stop()
    batch.close()
    return list(cursor.pull().events)


def frontmatter(path: str) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.mark.parametrize(
    ("model", "style", "approximate"),
    [
        ("whisper-1", "openai", False),
        ("gpt-4o-transcribe", "openai", True),
        ("gpt-4o-mini-transcribe", "openai", True),
        ("whisper-large-v3-turbo", "groq", False),
    ],
)
def test_every_current_model_transcribes_a_whole_batch(
    media: list[Path], tmp_path: Path, model: str, style: str, approximate: bool
) -> None:
    with OpenAIServer() as server:
        server.style = style
        server.detected_language = "English"
        batch = batch_for(server.base_url, tmp_path / "out", model=model)
        events = run(batch, media)
        arrivals = server.arrivals
    items = []
    for path in sorted((tmp_path / "out").glob("*.md")):
        items.append(frontmatter(str(path)))
    assert len(items) == len(media)
    # json carries no language (OpenAI's Transcription object is text and usage only): none is
    # invented; verbose_json's "English" becomes a code.
    language = None if approximate else "en"
    assert {item.get("language") for item in items} == {language}
    assert not [e for e in events if e.kind in ("failed", "format")]
    assert {a.status for a in arrivals} == {200}
    assert all(a.language is None for a in arrivals)  # the service detects it
    notes = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "out").glob("*.json")]
    notes = [note for note in notes if "segments" in note]
    assert len(notes) == len(media)
    if approximate:
        assert {item.get("timing") for item in items} == {"approximate"}
        assert {note.get("timing") for note in notes} == {"approximate"}
        # One cue per chunk, over the chunk's span: coarse, but never an invented timeline.
        assert all(len(note["segments"]) == 1 for note in notes)
    else:
        assert all("timing" not in item for item in items)
        assert all("timing" not in note for note in notes)
    manifest = json.loads(batch.write_reports().read_text(encoding="utf-8"))
    assert {row["language"] for row in manifest["items"]} == {language}


def test_a_model_that_refuses_verbose_json_switches_the_batch_once(
    media: list[Path], tmp_path: Path
) -> None:
    with OpenAIServer() as server:
        server.json_only = lambda model: model == "house-asr"
        batch = batch_for(server.base_url, tmp_path / "out", model="house-asr", workers=4)
        events = run(batch, media * 3)
        states = {item.state for item in batch.board.items()}
    assert states == {State.DONE}
    assert [e.kind for e in events].count("format") == 1


def test_a_language_asked_for_is_sent_and_written_as_a_code(
    media: list[Path], tmp_path: Path
) -> None:
    with OpenAIServer() as server:
        batch = batch_for(server.base_url, tmp_path / "out", asr_language="es-ES")
        run(batch, media[:1])
        sent = [a.language for a in server.arrivals]
    assert sent == ["es"]
    (md,) = (tmp_path / "out").glob("*.md")
    assert frontmatter(str(md))["language"] == "es"


def test_the_limiter_learns_the_servers_limit_from_its_headers(
    media: list[Path], tmp_path: Path
) -> None:
    with OpenAIServer(limit=50, window=10.0) as server:
        batch = batch_for(server.base_url, tmp_path / "out")
        events = run(batch, media)
    stats = batch.limits[Service.ASR].stats()
    assert stats.learnt == "50/10s"
    assert stats.rate_state == "learnt 50/10s"
    assert any(e.kind == "learnt" and "server allows 50/10s" in e.text for e in events)


def test_a_far_retry_after_is_capped(media: list[Path], tmp_path: Path) -> None:
    with OpenAIServer() as server:
        server.inject("429", retry_after=86400)
        batch = batch_for(server.base_url, tmp_path / "out", max_retry_after=1.0, workers=1)
        events = run(batch, media[:1])
    texts = [e.text for e in events if e.kind == "429"]
    assert texts and "pausing 1.0s" in texts[0] and "asked for 86400s; capped" in texts[0]
    assert {item.state for item in batch.board.items()} == {State.DONE}


def test_an_api_that_is_not_there_yet_pauses_the_batch_and_it_carries_on_once_it_answers(
    media: list[Path], tmp_path: Path
) -> None:
    port = free_port()
    batch = batch_for(f"http://127.0.0.1:{port}/v1", tmp_path / "out", retries=1)
    cursor, seen, deadline = start_until_offline(batch, media)
    offline = [e for e in seen if e.kind == "offline"]
    assert len(offline) == 1 and "cannot reach" in offline[0].text
    limiter = batch.limits[Service.ASR]
    # Let the limiter's probes fail a few times (more than the one retry each item has): one
    # permit goes out per probe, and nothing may fail meanwhile.
    probes_before = limiter.stats().granted
    while limiter.stats().granted < probes_before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = limiter.stats()
    assert stats.granted >= probes_before + 3
    assert stats.rate_state.startswith("offline, probe in") and stats.offline_for is not None
    assert not [i for i in batch.board.items() if i.state is State.FAILED]
    come_back(batch, cursor, seen, port, media)
