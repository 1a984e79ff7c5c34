"""deAPI prices before a run: the dry run's table, total and balance; a run above the balance asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mediagen import write_tone
from tests.servers.deapi_api import DeapiServer, JobPlan
from tests.test_deapi_batch import VIDEOS, RecordingProxy, proxy  # noqa: F401 - fixture
from tests.test_headless_e2e import assert_no_traceback, run_cli

pytestmark = pytest.mark.timeout(60)


def flags(api: DeapiServer) -> list[str]:
    return ["--asr", "deapi", "--api-base", api.base, "--api-key", "dk-test", "--no-captions"]


def test_the_dry_run_prices_each_item_and_shows_total_and_balance(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    proxy: RecordingProxy,  # noqa: F811
) -> None:
    memo = write_tone(tmp_path / "memo.wav", seconds=30.0)
    with DeapiServer(balance=3.5) as api:
        api.plan_for = lambda source: JobPlan(seconds=600.0 if source == VIDEOS[0] else 1200.0)
        run = run_cli(["--dry-run", *flags(api), VIDEOS[0], VIDEOS[1], str(memo)],
                      tmp_path, monkeypatch)  # fmt: skip
    assert_no_traceback(run)
    assert run.code == 0, run.stdout + run.stderr
    lines = {line.split()[1]: line for line in run.stdout.splitlines() if "│" in line and
             len(line.split()) > 2}  # fmt: skip
    assert "$0.06" in lines[VIDEOS[0]]
    assert "$0.12" in lines[VIDEOS[1]]
    assert "$0.0030" in lines[str(memo)]
    assert "total $0.18 · balance $3.50" in run.stdout
    assert api.submits == []  # priced, never submitted
    assert api.price_calls == 3
    assert proxy.seen == []
    assert not (tmp_path / "out").exists()


def test_a_headless_run_above_the_balance_is_refused_unless_told_yes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    proxy: RecordingProxy,  # noqa: F811
) -> None:
    with DeapiServer(balance=1.0) as api:
        api.plan_for = lambda source: JobPlan(polls=0, seconds=6000.0)  # $0.60 each
        refused = run_cli(["--headless", *flags(api), *VIDEOS[:2]], tmp_path, monkeypatch)
        assert refused.code == 2
        assert "estimated at $1.20, more than the deAPI balance of $1.00" in refused.stderr
        assert "--yes" in refused.stderr
        assert api.submits == []
        assert not (tmp_path / "out").exists()

        ran = run_cli(["--headless", "--yes", *flags(api), *VIDEOS[:2]], tmp_path, monkeypatch)
    assert_no_traceback(ran)
    assert "Running anyway (--yes)" in ran.stderr
    # The first job spends $0.60; the second would leave too little, so the batch pauses first.
    assert ran.item(VIDEOS[0])["status"] == "done"
    assert ran.item(VIDEOS[1])["status"] == "queued"
    assert "below the $0.49 it needs" in ran.stderr
    assert api.submit_counts() == {VIDEOS[0]: 1}


def test_the_quick_estimate_before_a_run_prices_few_links_and_the_files_at_once(
    tmp_path: Path,
) -> None:
    from engine.inputs import read_inputs
    from engine.providers.deapi import DeapiTranscriber
    from engine.providers.deapi_estimate import estimate

    files = [str(write_tone(tmp_path / f"memo{n}.wav", seconds=60.0)) for n in range(3)]
    links = [f"https://www.youtube.com/watch?v=link{n:07d}" for n in range(12)]
    sources = read_inputs([*links, *files]).sources
    with DeapiServer() as api:
        api.plan_for = lambda source: JobPlan(seconds=300.0)
        deapi = DeapiTranscriber(api.base, ["dk-test"])
        result = estimate(deapi, sources, sample_urls=10)
        deapi.close()
    assert api.price_calls == 10 + 1  # ten links, then the three files together
    assert result.sampled == 10
    assert result.total == pytest.approx(12 * 0.03 + 180 * 0.0001)
    assert result.balance == pytest.approx(5.0)
    assert [row.note for row in result.items].count("average of the priced links") == 2


@pytest.mark.parametrize("answer", [True, False])
def test_the_app_asks_before_a_run_above_the_balance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: bool
) -> None:
    import io

    from rich.console import Console
    from rich.prompt import Confirm

    from engine.errors import UsageError
    from engine.inputs import read_inputs
    from engine.settings import Settings
    from tui.deapi_costs import check_funds

    asked: list[str] = []

    def ask(prompt: str, **kw: object) -> bool:
        asked.append(prompt)
        return answer

    monkeypatch.setattr(Confirm, "ask", ask)
    err = Console(file=io.StringIO(), width=200)
    with DeapiServer(balance=0.5) as api:
        api.plan_for = lambda source: JobPlan(seconds=6000.0)
        settings = Settings(asr="deapi", api_base=api.base, api_keys=("dk-test",))
        sources = read_inputs(VIDEOS[:1]).sources
        if answer:
            check_funds(sources, settings, err, headless=False, yes=False)
        else:
            with pytest.raises(UsageError, match="not started"):
                check_funds(sources, settings, err, headless=False, yes=False)
    assert asked == ["The estimate is more than the balance. Run anyway?"]
    assert "total $0.60 · balance $0.50" in err.file.getvalue()  # type: ignore[attr-defined]
