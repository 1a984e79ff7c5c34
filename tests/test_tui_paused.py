"""Paused: the ETA stops where it was and the footer offers "space Resume"."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from engine.items import State
from tests.tui_support import GateBatch, make_app, screen_text, until, wait_started


def counts(app) -> str:  # noqa: ANN001
    return str(app.main.query_one("#progress-counts", Static).render())


@pytest.mark.parametrize("size", [(60, 15), (80, 24), (120, 40)], ids=["60x15", "80x24", "120x40"])
async def test_paused_freezes_the_eta_and_the_footer_says_resume(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    batch = GateBatch(tmp_path, 4)
    app = make_app(batch)
    async with app.run_test(size=size) as pilot:
        wait_started(batch.gate, 0)
        batch.gate.release(0)
        await until(pilot, lambda: batch.board.get(0).state is State.DONE)
        await until(pilot, lambda: "ETA --" not in counts(app), "an estimate")
        await until(pilot, lambda: "space Pause" in screen_text(app), "the footer")
        await pilot.press("space")
        await until(pilot, lambda: "(paused)" in counts(app) or "PAUSED" in screen_text(app))
        frozen = counts(app).split("ETA ")[1].split()[0]
        # Nothing finishes while paused, so a live estimate would grow second by second.
        board_eta = batch.board.cursor().pull().stats.eta
        await pilot.pause(1.2)
        assert counts(app).split("ETA ")[1].split()[0] == frozen
        assert board_eta is not None
        footer = screen_text(app).splitlines()[-1]
        assert "space Resume" in footer and "Pause" not in footer
        await pilot.press("space")
        await until(pilot, lambda: not batch.engine.paused)
        await until(pilot, lambda: "space Pause" in screen_text(app).splitlines()[-1])
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)
