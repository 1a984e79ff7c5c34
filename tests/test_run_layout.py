"""The run loop's import rules: the Job never sees the Engine, and only the batch builds one."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PATHS = ("engine.run.engine",)
# Who may import the Engine: the batch builds it.
BUILDERS = {"engine.batch"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_the_job_imports_nothing_of_the_run_loop() -> None:
    names = imports(ROOT / "engine" / "run" / "job.py")
    assert not [name for name in names if name.startswith("engine.run")]


def test_only_the_constructor_path_imports_the_engine() -> None:
    importers = {
        module(path)
        for path in (ROOT / "engine").rglob("*.py")
        if imports(path) & set(ENGINE_PATHS)
    }
    assert importers <= BUILDERS


def test_no_part_of_the_run_loop_imports_the_engine() -> None:
    parts = [p for p in (ROOT / "engine" / "run").glob("*.py") if p.name != "engine.py"]
    assert parts and not [module(p) for p in parts if imports(p) & set(ENGINE_PATHS)]


def test_no_run_module_is_over_300_lines() -> None:
    for path in (ROOT / "engine" / "run").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path
