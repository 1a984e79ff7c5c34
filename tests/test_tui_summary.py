"""The end of a batch: a summary with its keys, reports written at once, an optional alert."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from engine.items import State
from tests.tui_support import GateBatch, screen_text, state_of, until, wait_started
from tui.app import BulkscribeApp
from tui.screens.summary import SummaryScreen


def finishing_app(tmp_path: Path, **app_args: object) -> tuple[BulkscribeApp, GateBatch, list[int]]:
    batch = GateBatch(tmp_path, 3)
    calls: list[int] = []

    def on_finished() -> Path:
        calls.append(len(batch.board.items()))
        return batch.output_dir / "manifest.json"

    app = BulkscribeApp(
        batch,  # type: ignore[arg-type]
        session_name="test session",
        on_finished=on_finished,
        **app_args,  # type: ignore[arg-type]
    )
    app.animation_level = "none"
    return app, batch, calls


async def finish_with_one_failure(pilot, batch: GateBatch) -> None:  # noqa: ANN001
    wait_started(batch.gate, 0)
    batch.gate.fail(0)
    for item_id in (1, 2):
        wait_started(batch.gate, item_id)
        batch.gate.release(item_id)
    await until(pilot, lambda: isinstance(pilot.app.screen, SummaryScreen), "the summary")
    await until(pilot, lambda: "Batch finished" in screen_text(pilot.app), "the summary drawn")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_a_finished_batch_shows_a_summary_and_writes_the_reports(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, batch, calls = finishing_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await finish_with_one_failure(pilot, batch)
        assert calls == [3]  # the reports were written when the batch finished, not at quit
        shown = screen_text(app)
        assert "Batch finished: 1 failed" in shown
        counts = str(app.screen.query_one("#summary-counts", Static).render())
        assert "2 done" in counts and "1 failed" in counts
        assert "3 items in" in counts
        assert str(batch.output_dir) in str(app.screen.query_one("#summary-folder").render())
        for key in ("o Open folder", "c Copy path", "R Retry failed"):
            assert key in shown
        await pilot.press("c")
        await until(pilot, lambda: not isinstance(app.screen, SummaryScreen))
        assert app.clipboard == str(batch.output_dir)


async def test_retry_failed_from_the_summary_runs_the_failed_item_again(tmp_path: Path) -> None:
    app, batch, calls = finishing_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await finish_with_one_failure(pilot, batch)
        await pilot.press("R")
        await until(pilot, lambda: batch.gate.started.count(0) == 2, "item 1 again")
        batch.gate.release(0)
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen), "a second summary")
        await until(pilot, lambda: "Batch finished" in screen_text(app), "drawn")
        assert state_of(batch, 0) is State.DONE
        assert "Batch finished" in screen_text(app) and "failed:" not in screen_text(app)
        assert "R Retry failed" not in screen_text(app)  # nothing failed any more
        assert calls == [3, 3]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SummaryScreen))


@pytest.mark.parametrize(
    ("notify", "sequence"),
    [("bell", "\a"), ("osc9", "\x1b]9;bulkscribe: batch finished\x07"),
     ("osc777", "\x1b]777;notify;bulkscribe;bulkscribe: batch finished\x07")],
)  # fmt: skip
async def test_the_finish_can_ring_or_notify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notify: str, sequence: str
) -> None:
    app, batch, _ = finishing_app(tmp_path, notify=notify)
    written: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        monkeypatch.setattr(app, "bell", lambda: written.append("\a"))
        assert app._driver is not None
        monkeypatch.setattr(app._driver, "write", written.append)
        await finish_with_one_failure(pilot, batch)
        assert sequence in written


def test_the_summary_counts_items_done_with_no_speech_by_the_engine_outcome() -> None:
    from engine.items import Item
    from engine.outputs.no_speech import NO_SPEECH
    from tui.screens.summary import no_speech

    silent = Item(0, "a.wav", state=State.DONE, meta={"outcome": NO_SPEECH})
    spoken = Item(1, "b.wav", state=State.DONE, meta={})
    failed = Item(2, "c.wav", state=State.FAILED, meta={"outcome": NO_SPEECH})
    assert [no_speech(i) for i in (silent, spoken, failed)] == [True, False, False]
