"""The engine and sessions stand on their own: they import with Textual missing and never import tui."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("engine", "sessions")

# Runs in a fresh interpreter: any attempt to import textual fails as if it were not installed.
_PROBE = """
import importlib, json, sys, traceback

class NoTextual:
    def find_spec(self, name, path=None, target=None):
        if name == "textual" or name.startswith("textual."):
            raise ImportError(f"textual is not installed (blocked for this test): {name}")
        return None

sys.meta_path.insert(0, NoTextual())
failures = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException:
        failures[name] = traceback.format_exc(limit=3)
leaked = sorted(m for m in sys.modules if m == "tui" or m.startswith(("tui.", "textual")))
print(json.dumps({"failures": failures, "leaked": leaked}))
"""


def core_modules() -> list[str]:
    names = []
    for package in CORE:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    return names


def test_every_core_module_is_found() -> None:
    names = core_modules()
    for expected in (
        "engine",
        "engine.run.engine",
        "engine.limits.limiter",
        "engine.providers.openai",
        "sessions",
    ):
        assert expected in names


def test_engine_and_sessions_import_without_textual() -> None:
    names = core_modules()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failures"] == {}, "\n".join(report["failures"].values())
    assert report["leaked"] == []


def _imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_tui_or_textual_even_lazily() -> None:
    offenders = []
    for package in CORE:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _imported_names(path):
                top = name.split(".")[0]
                if top in ("tui", "textual") or (package == "engine" and top == "sessions"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
