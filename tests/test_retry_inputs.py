"""A bad input that is retried is looked at afresh: fixed inputs go through, others keep a clear reason."""

from __future__ import annotations

from pathlib import Path

from engine.batch import Batch
from engine.inputs import read_inputs
from engine.items import State
from engine.providers.sphinx import SphinxTranscriber
from engine.settings import Settings
from tests.mediagen import write_tone


def test_a_missing_file_retried_after_it_appears_is_transcribed(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("late.wav\n")
    batch = Batch(
        Settings(asr="sphinx"), tmp_path / "out", transcriber=SphinxTranscriber(in_process=True)
    )
    try:
        batch.add_sources(read_inputs([str(tmp_path / "list.txt")]).sources)
        batch.engine.start()
        assert batch.engine.wait_finished(10)
        first = batch.board.get(0)
        assert first.state is State.FAILED
        assert "line 1: file not found: late.wav" in (first.error or "")

        batch.engine.retry()
        assert batch.engine.wait_finished(10)
        again = batch.board.get(0)
        assert again.state is State.FAILED
        assert (
            again.error is not None and "list.txt line 1: file not found: late.wav" in again.error
        )

        write_tone(tmp_path / "late.wav", 2, 300)
        batch.engine.retry()
        assert batch.engine.wait_finished(30)
        fixed = batch.board.get(0)
        assert (fixed.state, fixed.kind) == (State.DONE, "file")
        assert Path(fixed.outputs["md"]).is_file()
    finally:
        batch.engine.stop()
        batch.close()
