"""An item sleeping between two tries of a request says "retrying in Ns", and its retries count."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from engine.errors import ProviderError
from engine.items import State
from engine.run.job import Job
from tests.tui_support import GateBatch, make_app, state_of, until
from tui.screens.confirm import ConfirmScreen
from tui.widgets.item_detail import ItemDetail
from tui.widgets.status_table import StatusTable


class FailsOnce:
    """Work whose one request fails with a 500 the first time, then succeeds."""

    def __init__(self) -> None:
        self.tries = 0
        self.lock = threading.Lock()

    def request(self, job: Job, _: int) -> None:
        with self.lock:
            self.tries += 1
            first = self.tries == 1
        if first:
            raise ProviderError("the API failed (500): internal error", status=500, transient=True)

    def __call__(self, job: Job) -> None:
        job.stage("transcribe", title="Episode 1", chunks_total=1)
        job.map(self.request, [0], label="chunk")


def detail_text(app) -> str:  # noqa: ANN001
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(app.main.query_one(ItemDetail).query_one("#detail-body").content)
    return console.export_text()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_a_sleeping_item_counts_down_its_retry(tmp_path: Path, size: tuple[int, int]) -> None:
    work = FailsOnce()
    # A long back-off (15-30 s after the cap) so the test sees the sleep; a cancel wakes it.
    batch = GateBatch(tmp_path, 1, work=work, retries=2, backoff=60.0)
    app = make_app(batch)
    async with app.run_test(size=size) as pilot:
        table = app.main.query_one(StatusTable)
        await until(pilot, lambda: work.tries == 1, "first request")
        await until(pilot, lambda: "retry " in table.render_line(1).text, "row says retry")
        row = table.render_line(1).text
        assert "▶ running" in row  # still the item's state; the stage says what it does
        seconds = int(re.search(r"retry (\d+)s", row).group(1))  # type: ignore[union-attr]
        assert 1 <= seconds <= 30  # the back-off, capped at 30 s, counting down
        if not app.main.side_shown:
            await pilot.press("i")
        await pilot.press("down", "up")
        await until(pilot, lambda: "retrying in" in detail_text(app), "detail says retrying")
        detail = detail_text(app)
        assert "▶ running" not in detail
        assert re.search(r"attempts\s+1 \(1 request retry\)", detail), detail
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: state_of(batch, 0) is State.CANCELLED)
        await until(pilot, lambda: "retry " not in table.render_line(1).text)
