"""faster-whisper with the real base model on spoken English and German: what a user gets from it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.audio.decode import probe
from engine.batch import Batch
from engine.errors import Cancelled
from engine.items import State
from engine.providers.base import Chunk, Transcriber, Transcript
from engine.providers.whisper import WhisperTranscriber
from engine.segments import Segment
from engine.settings import Settings
from tests.spoken import PASSAGES, join_wavs, silence, speak, word_error_rate, words

pytestmark = pytest.mark.timeout(300)
GERMAN = "Guten Morgen. Das Wetter ist heute sehr schön, und wir gehen in den Park."


@dataclass(frozen=True)
class Speech:
    short: Path  # one passage, about ten seconds
    long: Path  # all passages, about forty seconds
    german: Path
    quiet: Path  # silence, then the short passage


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    root = tmp_path_factory.mktemp("speech")
    parts = [speak(text, root / f"p{i}.wav") for i, text in enumerate(PASSAGES)]
    pause = silence(root / "pause.wav", 8.0, rate=22050)
    return Speech(
        short=parts[0],
        long=join_wavs(parts, root / "long.wav"),
        german=speak(GERMAN, root / "de.wav", voice="de"),
        quiet=join_wavs([pause, parts[0]], root / "quiet.wav", gap=0.0),
    )


@pytest.fixture(scope="module")
def whisper(whisper_model_dir: Path) -> Iterator[WhisperTranscriber]:
    engine = WhisperTranscriber(str(whisper_model_dir), workers=1)
    yield engine
    engine.close()


def whole(path: Path) -> Chunk:
    return Chunk(0, 0.0, probe(path).duration or 0.0, path)


def text_of(transcript: Transcript | list[Segment]) -> str:
    segments = transcript.segments if isinstance(transcript, Transcript) else transcript
    return " ".join(s.text for s in segments)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


# -- what comes back ---------------------------------------------------------------------------


def test_segments_carry_the_words_with_their_own_timings(
    whisper: WhisperTranscriber, speech: Speech
) -> None:
    chunk = whole(speech.short)
    result = whisper.transcribe(chunk)
    assert word_error_rate(PASSAGES[0], text_of(result)) < 0.4, text_of(result)
    assert result.segments and all(s.words for s in result.segments)
    spoken = [w for s in result.segments for w in s.words]
    for segment in result.segments:
        assert segment.words[0].start >= segment.start - 0.01
        assert segment.words[-1].end <= segment.end + 0.01
        assert words(" ".join(w.text for w in segment.words)) == words(segment.text)
    starts = [w.start for w in spoken]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in spoken)
    # The words span the speech: the last one ends in the final second of the recording.
    assert chunk.duration - 1.5 < spoken[-1].end <= chunk.duration + 0.05


def test_the_language_is_detected_unless_one_is_asked_for(
    whisper: WhisperTranscriber, speech: Speech
) -> None:
    detected = whisper.transcribe(whole(speech.german))
    assert detected.language == "de"
    # Transcribed in German, not translated: German words come back.
    assert {"morgen", "heute", "und", "park"} <= set(words(text_of(detected))), text_of(detected)
    forced = whisper.transcribe(whole(speech.short), "en-US")
    assert forced.language == "en"
    assert forced.extra["language_probability"] == 1
    # Without --lang the pipeline forces nothing; with it, the first language is used.
    from tui.cli import build_parser
    from tui.config import resolve_settings
    from tui.options import settings_flags as _flags

    def settings(*argv: str) -> Settings:
        return resolve_settings(_flags(build_parser().parse_intermixed_args(list(argv))), {})

    assert settings("a.mp3").asr_language is None
    assert settings("a.mp3", "--lang", "de-AT,en").asr_language == "de-AT"


def test_a_run_without_lang_transcribes_german_as_german(
    whisper: WhisperTranscriber, speech: Speech, tmp_path: Path
) -> None:
    batch = run_batch(tmp_path, speech.german, Spy(whisper), chunk_seconds=600)
    (item,) = batch.board.items()
    assert item.language == "de"
    assert {"morgen", "heute", "park"} <= set(words(transcript_text(batch)))


def test_silence_gives_no_segments_and_speech_after_it_keeps_its_place(
    whisper: WhisperTranscriber, speech: Speech, tmp_path: Path
) -> None:
    quiet = silence(tmp_path / "quiet.wav", 20.0)
    assert whisper.transcribe(whole(quiet)).segments == ()
    late = whisper.transcribe(whole(speech.quiet))
    assert late.segments[0].words[0].start > 7.5  # the voice starts after 8 s of silence
    assert word_error_rate(PASSAGES[0], text_of(late)) < 0.4


# -- long files: chunks, resume, cancel ----------------------------------------------------------


class Spy(Transcriber):
    """The real transcriber, counting the chunks it decodes and able to act as a chunk starts."""

    name, service, max_upload_bytes = "whisper", None, None

    def __init__(self, inner: WhisperTranscriber) -> None:
        self.inner = inner
        self.decoded: list[int] = []
        self.before: Any = None

    def transcribe(self, chunk: Chunk, language: str | None = None, **kw: Any) -> Transcript:
        if self.before is not None:
            self.before(chunk)
        result = self.inner.transcribe(chunk, language, **kw)
        self.decoded.append(chunk.index)
        return result


class MemoryCheckpoints:
    """Finished chunks kept across two runs, as the session store keeps them across restarts."""

    def __init__(self) -> None:
        self.saved: dict[int, dict[int, tuple[float, float, list[Segment], str | None]]] = {}

    def load(self, item_id: int) -> dict[int, tuple[float, float, list[Segment], str | None]]:
        return dict(self.saved.get(item_id, {}))

    def save(self, item_id: int, chunk: Chunk, segments: Any, language: str | None) -> None:
        self.saved.setdefault(item_id, {})[chunk.index] = (
            chunk.start, chunk.end, list(segments), language
        )  # fmt: skip

    def drop(self, item_id: int) -> None:
        self.saved.pop(item_id, None)

    def save_stem(self, item_id: int, stem: str) -> None:
        pass


def run_batch(
    tmp_path: Path, media: Path, transcriber: Any, checkpoints: Any = None, **changes: Any
) -> Batch:
    settings = Settings(
        asr="whisper", output=str(tmp_path / "out"), formats=("json",), chunk_seconds=10
    )
    batch = Batch(
        settings.evolve(**changes), tmp_path / "out", transcriber=transcriber,
        checkpoints=checkpoints, temp_root=tmp_path,
    )  # fmt: skip
    from engine.inputs import read_inputs

    batch.add_sources(read_inputs([str(media)]).sources)
    batch.engine.start()
    assert batch.engine.wait_finished(240), "the batch did not finish"
    batch.engine.stop()
    return batch


def transcript_text(batch: Batch) -> str:
    import json

    (item,) = batch.board.items()
    assert item.state is State.DONE, item.error
    return " ".join(
        s["text"] for s in json.loads(Path(item.outputs["json"]).read_text())["segments"]
    )


def test_a_long_file_in_chunks_stopped_midway_resumes_and_reads_in_order(
    whisper: WhisperTranscriber, speech: Speech, tmp_path: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    first = Spy(whisper)
    holder: dict[str, Batch] = {}

    def stop_after_two(chunk: Chunk) -> None:
        if len(first.decoded) == 2:  # the user stops the item while its third chunk starts
            (item,) = holder["batch"].board.items()
            holder["batch"].engine.cancel(item.id)

    first.before = stop_after_two
    settings = Settings(
        asr="whisper", output=str(tmp_path / "out"), formats=("json",), chunk_seconds=10
    )
    batch = holder["batch"] = Batch(settings, tmp_path / "out", transcriber=first, checkpoints=checkpoints, temp_root=tmp_path)  # fmt: skip
    from engine.inputs import read_inputs

    batch.add_sources(read_inputs([str(speech.long)]).sources)
    batch.engine.start()
    assert batch.engine.wait_finished(240)
    batch.engine.stop()
    (item,) = batch.board.items()
    assert item.state is State.CANCELLED
    assert first.decoded == [0, 1]
    assert sorted(checkpoints.saved[item.id]) == [0, 1]

    second = Spy(whisper)
    resumed = run_batch(tmp_path, speech.long, second, checkpoints)
    total = resumed.board.items()[0].chunks_total
    assert second.decoded == list(range(2, total))  # the first two chunks are not decoded again
    assert total >= 3  # about 40 s in 10 s chunks, cut at pauses: a short tail joins the last
    text = transcript_text(resumed)
    assert word_error_rate(" ".join(PASSAGES), text) < 0.45, text
    # Each passage's opening and closing words come in the order they were spoken: the first
    # two chunks from the checkpoints, the rest decoded now.
    heard = " ".join(words(text))
    marks = [
        heard.find(m)
        for m in ("worst", "incredulity", "universally", "wife", "queen", "surrounding")
    ]
    assert -1 not in marks and marks == sorted(marks), (marks, heard)


def test_cancelling_stops_a_chunk_between_segments(
    whisper: WhisperTranscriber, speech: Speech
) -> None:
    class CancelledAfterFirstSegment:
        checks = 0

        def is_set(self) -> bool:
            self.checks += 1
            return self.checks > 1

    flag = CancelledAfterFirstSegment()
    with pytest.raises(Cancelled):
        whisper.transcribe(whole(speech.long), cancel=flag)
    assert flag.checks == 2  # stopped after the first segment, not after the whole chunk


def test_a_cancelled_item_stops_inside_its_decode(
    whisper: WhisperTranscriber, speech: Speech, tmp_path: Path
) -> None:
    spy = Spy(whisper)
    holder: dict[str, Batch] = {}
    spy.before = lambda chunk: holder["batch"].engine.cancel(holder["batch"].board.items()[0].id)
    settings = Settings(asr="whisper", output=str(tmp_path / "out"), formats=("json",))
    batch = holder["batch"] = Batch(settings, tmp_path / "out", transcriber=spy, temp_root=tmp_path)
    from engine.inputs import read_inputs

    batch.add_sources(read_inputs([str(speech.long)]).sources)
    batch.engine.start()
    assert batch.engine.wait_finished(240)
    batch.engine.stop()
    (item,) = batch.board.items()
    assert item.state is State.CANCELLED
    assert spy.decoded == []  # the one 40 s chunk never finished decoding
    assert not list((tmp_path / "out").glob("*.json"))


# -- one model for every item ------------------------------------------------------------------


def test_items_share_one_loaded_model_and_memory_stays_flat(
    whisper_model_dir: Path, speech: Speech
) -> None:
    engine = WhisperTranscriber(str(whisper_model_dir), workers=2)
    chunk = whole(speech.german)
    errors: list[BaseException] = []

    def item() -> None:
        try:
            engine.transcribe(chunk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    readings = []
    for _ in range(3):  # three rounds of two items at once, as two workers run them
        pair = [threading.Thread(target=item) for _ in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()
        gc.collect()
        readings.append(rss_mb())
    assert not errors
    assert engine.loads == 1
    # After the first round warms the buffers, more items must not grow the process.
    assert readings[-1] - readings[0] < 40, readings
    before_close = readings[-1]
    engine.close()
    gc.collect()
    assert engine._model is None
    assert rss_mb() < before_close - 30  # the model's memory went back (it is ~75 MB in int8)


def test_auto_picks_whisper_for_a_model_folder_and_says_so(
    whisper_model_dir: Path, tmp_path: Path
) -> None:
    from tests.test_hostile_inputs import run_cli

    for name in ("ws", "tmp"):
        (tmp_path / name).mkdir()
    media = Path(__file__).resolve().parent.parent / "examples" / "hello.wav"
    argv = ["--headless", "--whisper-model", str(whisper_model_dir), str(media), "-o", "out"]
    code, stderr = run_cli(tmp_path, argv)
    assert code == 0, stderr
    assert (
        f"ASR: whisper (no API key; Whisper model '{whisper_model_dir}' found in folder)" in stderr
    )
    (note,) = (tmp_path / "ws" / "out").glob("*.md")
    body = note.read_text()
    assert "engine: whisper" in body
    assert {"hello", "world", "test"} <= set(words(body.split("---", 2)[2]))


def test_auto_finds_a_model_in_faster_whispers_cache(
    whisper_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    from engine.asr_choice import pick_engine

    # The layout huggingface_hub leaves after a download: refs/main names the snapshot folder.
    repo = tmp_path / "hub" / "models--Systran--faster-whisper-base"
    snapshot = repo / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef")
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (snapshot / name).symlink_to(whisper_model_dir / name)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    choice = pick_engine(Settings(whisper_model="base"))
    assert choice.engine == "whisper"
    assert choice.reason == "no API key; Whisper model 'base' found in faster-whisper's cache"
    assert WhisperTranscriber("base").check() == f"cache {snapshot}"
