"""The start-up questions: the masked key prompt, the session list, and no empty session left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from engine.settings import Settings
from sessions.live import LiveSession
from sessions.store import Store
from tests.servers.openai_api import OpenAIServer
from tests.test_crash_safety import Homes, make_tones
from tests.test_resume import paused_session
from tui.launch import _forget_empty
from tui.resume_choice import resume_asking_for_a_key as _resume_asking_for_a_key
from tui.screens.resume import KeyPrompt, SessionList


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Homes:
    # This process opens the same database as the sessions it makes.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return Homes(tmp_path)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_key_prompt_masks_what_is_typed(size: tuple[int, int]) -> None:
    app = KeyPrompt("flag:--api-key")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#api-key", Input)
        assert field.password
        await pilot.press(*"sk-secret", "enter")
        await pilot.pause()
    assert app.return_value == "sk-secret"


async def test_the_session_list_returns_the_choice_or_a_new_session() -> None:
    app = SessionList(["a (1): 1/3 finished", "b (2): 0/2 finished"])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(OptionList).option_count == 3
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.return_value == 1
    app = SessionList(["a (1): 1/3 finished", "b (2): 0/2 finished"])
    async with app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value == -1


def test_a_key_given_by_flag_last_time_is_asked_for_on_resume(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tones(tmp_path / "media", 2)
    with OpenAIServer(latency=0.05) as server:
        sid = paused_session(homes, server, tmp_path / "media", tmp_path / "out")
        asked: list[str] = []

        def ask(source: str) -> str:
            asked.append(source)
            return "sk-test"

        monkeypatch.setattr("tui.resume_choice.ask_api_key", ask)
        with homes.store() as store:
            info = store.session(sid)
            keyless = Settings.from_saved(dict(info.settings))
            assert keyless.api_keys == ()
            live = _resume_asking_for_a_key(store, info, keyless, interactive=True)
            try:
                assert live.batch.engine is not None
            finally:
                live.close(interrupted=True)
            saved = dict(store.session(sid).settings)
    assert asked == [info.settings.get("api_key_source") or ""]
    assert "sk-test" not in repr(saved)  # the key typed in is used, never stored


def test_a_new_session_left_empty_leaves_no_session_and_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "transcripts-empty"
    with Store.open(tmp_path / "data" / "sessions.db") as store:
        live = LiveSession.create(store, Settings(asr="sphinx", output=str(out)), [], [])
        live.close()
        _forget_empty(live)
        assert store.sessions() == []
    assert not out.exists()
