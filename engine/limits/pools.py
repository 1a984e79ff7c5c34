"""Rate modes and pool keys: one pool for all workers (shared), or one per worker or per API key."""

from __future__ import annotations

from engine.errors import UsageError

SHARED = "shared"
INDEPENDENT = "independent"
MODES = (SHARED, INDEPENDENT)


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"unknown rate mode {mode!r}", hint="use shared or independent")


def key_index(worker: int, keys: int) -> int:
    """Which of ``keys`` API keys worker ``worker`` spends."""
    return worker % max(1, keys)


def pool_key(worker: int, keys: int, key: int | None = None) -> str:
    """A worker's independent-mode pool: its API key's when there are several, else its own.

    ``key`` names the API key when the caller chose it; by default the worker's own.
    """
    if keys <= 1:
        return f"worker-{worker}"
    return f"key-{key_index(worker, keys) if key is None else key}"
