"""Small choices the screen remembers between runs (the theme), kept beside config.toml."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs


def preferences_path() -> Path:
    return platformdirs.user_config_path("bulkscribe") / "ui.json"


def load_preferences(path: Path | None = None) -> dict[str, Any]:
    """The saved preferences; a missing or damaged file means none (it is only a convenience)."""
    path = path or preferences_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_preference(key: str, value: Any, path: Path | None = None) -> None:
    path = path or preferences_path()
    data = load_preferences(path)
    if data.get(key) == value:
        return
    data[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        pass  # an unwritable config folder must never stop a run; the theme is simply not kept
