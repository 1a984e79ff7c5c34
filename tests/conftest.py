"""Private config and data folders for every test, and how a parallel run shares out the tests."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same cases on every run, so a suite that passed passes again: a random
# draw that finds a new failing case would turn CI red for a change that did not cause it. To hunt
# for new cases, run them with `--hypothesis-profile=explore` (random draws, new ones each run);
# a case found that way is kept as an @example.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")

# Tests that measure real time (windows, pauses, signals, clocks): one worker runs them one after
# another, so a parallel run loads them no more than a busy machine would.
TIMED_MODULES = frozenset(
    {
        "test_compliance",
        "test_limiter_guard",
        "test_signals",
        "test_shared_quota",
        "test_shared_quota_hosts",
        "test_shared_quota_learning",
        "test_shared_quota_processes",
    }
)
# Modules with module-scoped fixtures (a loaded model, synthesised speech, a decoder pool, a
# server, generated media): each runs on one worker, so the set-up is made once, as when serial.
SHARED_SET_UP_MODULES = frozenset(
    {
        "test_fault_recovery",
        "test_faults",
        "test_hostile_inputs",
        "test_hostile_props",
        "test_inputs",
        "test_inputs_props",
        "test_media",
        "test_openai_formats",
        "test_openai_provider",
        "test_openai_server",
        "test_quota_batch",
        "test_remote",
        "test_seams",
        "test_sphinx",
        "test_whisper_real",
    }
)


@pytest.fixture(autouse=True)
def _private_folders(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("DEAPI_API_KEY", raising=False)


def work_unit(nodeid: str) -> str:
    """What one worker runs together: the timed tests, a module with shared set-ups, or one test."""
    module = PurePosixPath(nodeid.split("::", 1)[0]).stem
    if module in TIMED_MODULES:
        return "timed"
    if module in SHARED_SET_UP_MODULES:
        return module
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` by work_unit: xdist's own groups are lost on pytest 9 (ids are not strings)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        # Units go out largest first (xdist's default order), so the timed group and the model
        # tests start early and the single tests fill the gaps at the end.
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


from tests.whisper_model import whisper_model_dir  # noqa: E402, F401 - the real-model fixture
