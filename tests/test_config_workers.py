"""A worker count turns parallel work on from every source alike: config.toml, environment, flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.config import load_config, resolve_settings


def _config(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


@pytest.mark.parametrize(
    ("config", "env", "flags", "workers", "parallel"),
    [
        ("workers = 8\n", {}, {}, 8, True),
        ("", {"BULKSCRIBE_WORKERS": "8"}, {}, 8, True),
        ("", {}, {"workers": 8}, 8, True),
        ("workers = 1\n", {}, {}, 1, False),
        # The same source saying both: its own `parallel` wins.
        ("workers = 8\nparallel = false\n", {}, {}, 8, False),
        ("", {"BULKSCRIBE_WORKERS": "8", "BULKSCRIBE_PARALLEL": "0"}, {}, 8, False),
        # A later source's `parallel` overrides an earlier source's count...
        ("workers = 8\n", {}, {"parallel": False}, 8, False),
        # ...and a later count decides again.
        ("workers = 8\nparallel = false\n", {"BULKSCRIBE_WORKERS": "4"}, {}, 4, True),
        ("", {}, {}, 2, False),
    ],
)
def test_workers_from_any_source_turn_parallel_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    env: dict[str, str],
    flags: dict[str, object],
    workers: int,
    parallel: bool,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = resolve_settings(flags, _config(tmp_path, config))
    assert (settings.workers, settings.parallel) == (workers, parallel)
