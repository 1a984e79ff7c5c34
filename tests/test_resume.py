"""Resume semantics: what comes back, what is never redone, which session is chosen, and the prompt."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from engine.errors import UsageError
from engine.inputs import read_inputs
from engine.items import State
from engine.settings import Settings
from sessions.live import LiveSession
from sessions.store import Store
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.test_crash_safety import Homes, api_flags, bulkscribe, make_tones, run, wait_until
from tui.resume_choice import session_to_resume as _session_to_resume
from tui.screens.resume import ResumePrompt

pytestmark = pytest.mark.timeout(40)
RESUME = ("--resume", "--headless")


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Homes:
    homes = Homes(tmp_path)
    # This process opens the same database the subprocesses use.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return homes


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(latency=0.05) as api:
        yield api


def paused_session(
    homes: Homes, server: OpenAIServer, media: Path, out: Path, *, done: int = 0, **changes: object
) -> str:
    """A session left paused, as a user's Ctrl-C leaves it: ``done`` items finished, the rest queued."""
    settings = Settings(
        asr="openai", api_base=server.base_url, api_keys=("sk-test",), output=str(out),
        chunk_seconds=10,
    ).evolve(**changes)  # fmt: skip
    with homes.store() as store:
        live = LiveSession.create(store, settings, [str(media)], read_inputs([str(media)]).sources)
        if done:
            live.batch.engine.start()
            wait_until(lambda: live.batch.board.count(State.DONE) >= done, what=f"{done} done")
        live.close(interrupted=True)
        return live.session_id


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# -- what a resume redoes ---------------------------------------------------------------------


def test_done_items_are_never_sent_again(
    homes: Homes, server: OpenAIServer, tmp_path: Path
) -> None:
    tones = make_tones(tmp_path / "media", 5)
    out = tmp_path / "out"
    server.latency = 0.1
    sid = paused_session(homes, server, tmp_path / "media", out, done=2)
    with homes.store() as store:
        done = {Path(i.location).name for i in store.load_items(sid) if i.state is State.DONE}
    assert len(done) >= 2
    before = len(server.arrivals)

    result = run(homes, bulkscribe(*RESUME, "--api-key", "sk-test"))
    assert result.returncode == 0, result.stderr
    assert f"Resuming out ({sid})" in result.stderr
    sent_after = {a.freq for a in server.arrivals[before:]}
    assert sent_after.isdisjoint(tones[name] for name in done)
    assert sent_after == {tones[name] for name in tones if name not in done}
    assert {row["status"] for row in manifest(out)["items"]} == {"done"}


def test_failed_items_stay_failed_until_retried(
    homes: Homes, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 2)
    broken = tmp_path / "media" / "zz-broken.wav"
    broken.write_bytes(b"RIFF not really a wave file" * 10)
    out = tmp_path / "out"
    first = run(
        homes, bulkscribe(str(tmp_path / "media"), "--headless", *api_flags(server), "-o", str(out))
    )
    assert first.returncode == 1 and "zz-broken" in first.stderr
    with homes.store() as store:
        (info,) = store.sessions()
    before = len(server.arrivals)

    again = run(homes, bulkscribe("--resume", info.id, "--headless", "--api-key", "sk-test"))
    assert again.returncode == 1, again.stderr
    assert "zz-broken" in again.stderr  # the summary still lists it
    assert len(server.arrivals) == before
    rows = {Path(r["source"]).name: r["status"] for r in manifest(out)["items"]}
    assert rows == {"tone00.wav": "done", "tone01.wav": "done", "zz-broken.wav": "failed"}

    write_tone(broken, 3, 2000, rate=8000)  # the user fixes the file, then retries
    with homes.store() as store:
        live = LiveSession.resume(store, store.session(info.id), Settings.from_saved(
            dict(info.settings), api_keys=("sk-test",)))  # fmt: skip
        assert live.batch.engine.retry() == 1
        live.batch.engine.start()
        assert live.batch.engine.wait_finished(20)
        live.close()
        assert {i.state for i in store.load_items(info.id)} == {State.DONE}
    assert [a.freq for a in server.arrivals[before:]] == [2000]


# -- settings -------------------------------------------------------------------------------


def test_saved_settings_come_back_on_resume(
    homes: Homes, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 2)
    out = tmp_path / "out"
    sid = paused_session(
        homes, server, tmp_path / "media", out,
        workers=3, parallel=True, formats=("md", "txt"), rate_limit="120/min",
    )  # fmt: skip
    result = run(homes, bulkscribe(*RESUME, "--api-key", "sk-test"))
    assert result.returncode == 0, result.stderr
    saved = manifest(out)["session"]["settings"]
    assert (saved["workers"], saved["parallel"]) == (3, True)
    assert (saved["formats"], saved["rate_limit"]) == (["md", "txt"], "120/min")
    assert sorted(p.name for p in out.glob("tone*")) == [
        "tone00.md", "tone00.txt", "tone01.md", "tone01.txt",
    ]  # fmt: skip
    assert "/120 per min" in result.stderr  # the progress line shows the saved limit
    with homes.store() as store:
        assert store.session(sid).settings["formats"] == ["md", "txt"]


def test_flags_given_at_resume_override_the_saved_settings(
    homes: Homes, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 2)
    out = tmp_path / "out"
    sid = paused_session(
        homes, server, tmp_path / "media", out,
        workers=3, parallel=True, formats=("md", "txt"), rate_limit="120/min",
    )  # fmt: skip
    result = run(
        homes,
        bulkscribe(
            *RESUME,
            "--api-key",
            "sk-test",
            "--workers",
            "1",
            "--formats",
            "md,srt",
            "--rate-limit",
            "90/min",
        ),  # fmt: skip
    )
    assert result.returncode == 0, result.stderr
    saved = manifest(out)["session"]["settings"]
    # Parallel is off (one worker); "workers" keeps the count that switching it on brings back.
    assert (saved["workers"], saved["parallel"]) == (2, False)
    assert (saved["formats"], saved["rate_limit"]) == (["md", "srt"], "90/min")
    assert saved["output"] == str(out)  # the output folder is the session's, not a new one
    assert sorted(p.suffix for p in out.glob("tone00*")) == [".md", ".srt"]
    with homes.store() as store:
        assert store.session(sid).settings["rate_limit"] == "90/min"


def test_api_keys_never_reach_the_session_files(
    homes: Homes, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 2)
    flag_key, env_key, config_key = "sk-flag-7Qx9Secret", "sk-env-3Lp2Secret", "sk-cfg-8Vt4Secret"
    sid = paused_session(homes, server, tmp_path / "media", tmp_path / "a", api_keys=(flag_key,))
    resumed = run(homes, bulkscribe(*RESUME), OPENAI_API_KEY=env_key)
    assert resumed.returncode == 0, resumed.stderr
    config = tmp_path / "config" / "bulkscribe" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'api_key = "{config_key}"\n')
    fresh = run(
        homes,
        bulkscribe(
            str(tmp_path / "media"),
            "--headless",
            *api_flags(server, flag_key),
            "-o",
            str(tmp_path / "b"),
        ),  # fmt: skip
    )
    assert fresh.returncode == 0, fresh.stderr
    assert {a.key for a in server.arrivals} == {env_key, flag_key}  # the keys were used...
    exported = run(homes, bulkscribe("sessions", "export", sid))
    assert exported.returncode == 0
    on_disk = b"".join(p.read_bytes() for p in homes.data.rglob("*") if p.is_file())
    on_disk += b"".join(p.read_bytes() for p in (tmp_path / "a").iterdir())
    on_disk += b"".join(p.read_bytes() for p in (tmp_path / "b").iterdir())
    on_disk += exported.stdout.encode()
    for key in (flag_key, env_key, config_key):  # ...and never written down
        assert key.encode() not in on_disk
        assert key.split("-")[-1].encode() not in on_disk
    with homes.store() as store:
        sources = {s.settings.get("api_key_source") for s in store.sessions()}
    assert sources == {"env:OPENAI_API_KEY", "flag:--api-key"}


# -- which session a start resumes -----------------------------------------------------------


def launch_args(*argv: str) -> argparse.Namespace:
    from tui.cli import build_parser

    return build_parser().parse_args(list(argv))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "choice" / "sessions.db") as opened:
        yield opened


@dataclass
class Prompt:
    """Stands in for the start-up question: records what it was asked, answers ``answer``."""

    asked: list[str] = field(default_factory=list)
    answer: bool | None = True

    def __call__(self, description: str) -> bool | None:
        self.asked.append(description)
        return self.answer


@pytest.fixture
def prompt(monkeypatch: pytest.MonkeyPatch) -> Prompt:
    fake = Prompt()
    monkeypatch.setattr("tui.resume_choice.ask_resume", fake)
    return fake


def unfinished(store: Store, name: str) -> str:
    from engine.items import Item

    sid = store.create_session(name=name, inputs=[], settings={}, output_dir=f"/tmp/{name}")
    store.save_items(sid, [Item(0, source="a.mp3", location="a.mp3")])
    return sid


def choose(store: Store, *argv: str) -> str | None:
    info = _session_to_resume(store, launch_args(*argv), Console(stderr=True))
    return None if info is None else info.name


def test_the_prompt_is_offered_only_without_inputs_and_flags(store: Store, prompt: Prompt) -> None:
    assert choose(store) is None and prompt.asked == []  # nothing unfinished: no question
    newer = unfinished(store, "newer")
    assert choose(store) == "newer"
    assert prompt.asked == [
        f"newer ({newer}): 0/1 finished, last active just now\n"
        "interrupted (the app was stopped without quitting, or crashed)\n"
        "output folder: /tmp/newer"
    ]
    prompt.answer = False
    assert choose(store) is None
    for argv in (("talk.mp3",), ("--headless",), ("--new",), ("--dry-run", "x.mp3")):
        assert choose(store, *argv) is None, argv
    assert len(prompt.asked) == 2
    prompt.answer = None  # quit from the prompt: nothing starts
    with pytest.raises(KeyboardInterrupt):
        choose(store)


def test_several_unfinished_sessions_are_offered_as_a_list(
    store: Store, prompt: Prompt, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = unfinished(store, "older")
    newer = unfinished(store, "newer")
    store.update_session(older, status="paused")
    asked: list[list[str]] = []
    answers: list[int | None] = [1, -1, None]

    def which(descriptions: list[str]) -> int | None:
        asked.append(descriptions)
        return answers.pop(0)

    monkeypatch.setattr("tui.resume_choice.ask_which", which)
    assert choose(store) == "older"
    assert [d.splitlines()[0].split(" (")[0] for d in asked[0]] == ["newer", "older"]
    assert "interrupted" in asked[0][0] and "output folder: /tmp/newer" in asked[0][0]
    assert "paused (quit with items left)" in asked[0][1]
    assert choose(store) is None  # a new session
    with pytest.raises(KeyboardInterrupt):
        choose(store)
    assert prompt.asked == []  # the yes/no question is for a single session
    assert newer


def test_a_session_killed_after_its_last_item_gets_its_reports_on_the_next_start(
    store: Store, prompt: Prompt, tmp_path: Path
) -> None:
    from engine.items import Item, State

    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"stale": true}')
    sid = store.create_session(name="out", inputs=[], settings={}, output_dir=str(out))
    store.save_items(
        sid, [Item(i, source=f"{i}.mp3", location=f"{i}.mp3", state=State.DONE) for i in range(3)]
    )
    assert store.session(sid).status == "running"  # killed at 3/3: never closed
    assert choose(store) is None and prompt.asked == []  # nothing to resume, no question
    assert store.session(sid).status == "finished"
    written = json.loads((out / "manifest.json").read_text())
    assert written["counts"] == {"done": 3}
    assert written["session"]["status"] == "finished"
    assert (out / "items.csv").read_text().count("\n") == 4


def test_resume_flags_pick_a_session_without_asking(store: Store, prompt: Prompt) -> None:
    older = unfinished(store, "older")
    newer = unfinished(store, "newer")
    assert choose(store, "--resume") == "newer"
    assert choose(store, "--resume", older) == "older"
    prefix = next(older[:n] for n in range(8, 20) if not newer.startswith(older[:n]))
    assert choose(store, "--resume", prefix, "more.mp3") == "older"  # a unique prefix will do
    with pytest.raises(UsageError, match="no session nope"):
        choose(store, "--resume", "nope")
    assert prompt.asked == []


def test_resume_without_an_unfinished_session_says_so(store: Store, prompt: Prompt) -> None:
    sid = unfinished(store, "done")
    store.update_session(sid, status="finished")
    with pytest.raises(UsageError, match="no unfinished session to resume"):
        choose(store, "--resume")
    assert choose(store, "--resume", sid) == "done"  # asked for by id, it still opens


def test_resume_and_new_together_are_refused(homes: Homes) -> None:
    result = run(homes, bulkscribe("--resume", "--new", "--headless"))
    assert result.returncode == 2
    assert "--resume and --new contradict each other" in result.stderr


# -- the prompt itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "resumed"), [("y", True), ("n", False), ("escape", False), ("ctrl+q", None)]
)
async def test_the_resume_prompt_answers_with_a_key(key: str, resumed: bool | None) -> None:
    app = ResumePrompt("talks (20261128-101500-ab12): 3/12 finished, last active 5 min ago")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "Resume the last session?" in shown
        assert "talks (20261128-101500-ab12): 3/12 finished" in shown
        await pilot.press(key)
        await pilot.pause()
    assert app.return_value is resumed
