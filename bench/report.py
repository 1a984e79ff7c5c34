"""What the benchmarks' JSON reports say of the machine, and how a report is written."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a run was measured on."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_report(out: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON to ``out`` (its folder made if need be) and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")
