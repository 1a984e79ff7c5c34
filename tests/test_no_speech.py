"""Recordings with nothing said: done, marked "no speech found", one note instead of empty files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.items import Item, State
from engine.outputs import TranscriptDoc, write_outputs
from engine.outputs.no_speech import NO_SPEECH, has_speech
from engine.segments import Segment
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import api_flags, assert_no_traceback, run_cli
from tui.format import state_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "texts",
    [
        (),
        ("",),
        ("   ", "\n"),
        ("[Music]",),
        ("[Music]", "[Applause]", "(silence)"),
        ("[BLANK_AUDIO]",),  # whisper.cpp's word for a silent window
        ("♪♪", "♪ ♫"),
        ("...", "- -", "?!"),
    ],
)
def test_sound_tags_and_punctuation_are_not_speech(texts: tuple[str, ...]) -> None:
    assert not has_speech([Segment(i, i + 1.0, t) for i, t in enumerate(texts)])


@pytest.mark.parametrize(
    "texts", [("hello",), ("[Music]", "and then she said"), ("42",), ("日本語",), ("", "ok")]
)
def test_any_word_is_speech(texts: tuple[str, ...]) -> None:
    assert has_speech([Segment(i, i + 1.0, t) for i, t in enumerate(texts)])


@pytest.mark.parametrize("formats", [["md", "txt", "srt"], ["txt", "srt", "vtt", "json"], ["md"]])
def test_a_silent_transcript_gets_one_note_and_no_empty_files(
    tmp_path: Path, formats: list[str]
) -> None:
    doc = TranscriptDoc(
        source="quiet.wav", url=None, title="Quiet room", engine="sphinx",
        segments=(Segment(0.0, 3.0, "[Music]"),),
    )  # fmt: skip
    paths = write_outputs(doc, tmp_path, "Quiet room", formats)
    assert list(paths) == ["md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Quiet room.md"]
    text = paths["md"].read_text(encoding="utf-8")
    head, _, body = text[4:].partition("\n---\n")
    assert yaml.safe_load(head)["outcome"] == NO_SPEECH
    assert "No speech was found in this recording by sphinx" in body
    assert "[Music]" not in body


def test_the_status_column_says_no_speech_for_such_an_item() -> None:
    item = Item(0, "quiet.wav", state=State.DONE, meta={"outcome": NO_SPEECH})
    assert state_text(item) == "✓ no speech"
    assert state_text(Item(1, "talk.wav", state=State.DONE)) == "✓ done"


def _check_silent_run(run, silent: str) -> None:  # type: ignore[no-untyped-def]
    assert run.code == 0, run.stderr
    assert_no_traceback(run)
    item = run.item(silent)
    assert (item["status"], item["outcome"], item["error"]) == ("done", NO_SPEECH, None)
    assert list(item["outputs"]) == ["md"]
    fields, body = run.note(item)
    assert fields["outcome"] == NO_SPEECH and "No speech was found" in body
    stem = Path(item["outputs"]["md"]).stem
    assert not [p for p in run.out.iterdir() if p.stem == stem and p.suffix != ".md"]
    row = next(r for r in run.csv_rows if r["source"] == silent)
    assert (row["status"], row["outcome"]) == ("done", NO_SPEECH)
    assert "no speech found" in run.stderr


@pytest.mark.timeout(120)
def test_silent_media_with_the_offline_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = str(write_tone(tmp_path / "silence.wav", seconds=3.0, freq=0))
    spoken = str(EXAMPLES / "hello.wav")
    run = run_cli(
        [silent, spoken, "--headless", "--asr", "sphinx", "--formats", "md,txt,srt"],
        tmp_path,
        monkeypatch,
    )
    _check_silent_run(run, silent)
    talk = run.item(spoken)
    assert talk["outcome"] is None and set(talk["outputs"]) == {"md", "txt", "srt"}
    assert (run.out / talk["outputs"]["txt"]).stat().st_size > 0
    assert run.manifest["counts"] == {"done": 2}


def test_an_api_that_answers_with_empty_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local API answers silence with {"text": ""}, as OpenAI does for a silent upload.
    silent = str(write_tone(tmp_path / "silence.mp3", seconds=2.0, freq=0))
    tone = str(write_tone(tmp_path / "tone.mp3", seconds=2.0, freq=440))
    with OpenAIServer() as api:
        run = run_cli([silent, tone, *api_flags(api, workers=2), "--formats", "txt,srt"],
                      tmp_path, monkeypatch)  # fmt: skip
    _check_silent_run(run, silent)
    assert set(run.item(tone)["outputs"]) == {"txt", "srt"}
