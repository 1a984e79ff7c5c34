"""Settings from config.toml, then the environment, then command-line flags (each overriding the last)."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import platformdirs

from engine.errors import UsageError
from engine.settings import Settings

ENV_PREFIX = "BULKSCRIBE_"
# Tables of config.toml that are not settings: the keymap (binding id -> keys), and its first name.
KEYMAP_TABLES = ("keymap", "keys")
# What config.toml may set: every saved setting, and the keys (never saved) under either name.
_CONFIG_KEYS = frozenset(
    {f.name for f in fields(Settings)} - {"api_keys", "api_key_source"} | {"api_key", "api_keys"}
)


def config_path() -> Path:
    return platformdirs.user_config_path("bulkscribe") / "config.toml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """Read config.toml; a missing file is an empty config, a broken one a usage error."""
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"cannot read config file {path}: it is not UTF-8 text (byte {exc.start + 1})",
            hint="save it as UTF-8, or remove it",
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"cannot read config file {path}: {exc}", hint="fix or remove the file"
        ) from None
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def unknown_keys(config: dict[str, Any]) -> list[str]:
    """One warning per key the settings do not know, naming the nearest known one."""
    known = sorted(_CONFIG_KEYS)
    warnings = []
    for name in config:
        if name in _CONFIG_KEYS or name in KEYMAP_TABLES:
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        guess = f"; did you mean {near[0]}?" if near else ""
        warnings.append(f"config.toml: unknown setting {name!r} is ignored{guess}")
    return warnings


def config_keymap(config: dict[str, Any] | None = None) -> dict[str, str]:
    """The [keymap] table of config.toml (or [keys], its first name): binding ids mapped to keys."""
    config = load_config() if config is None else config
    keymap: dict[str, str] = {}
    for table in reversed(KEYMAP_TABLES):  # [keymap] wins over [keys] for an id in both
        entries = config.get(table) or {}
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise UsageError(
                f"[{table}] in config.toml must map binding ids to keys",
                hint='for example: "bulkscribe.retry_all" = "ctrl+r"',
            )
        keymap.update(entries)
    return keymap


def _check_type(name: str, value: Any, current: Any) -> None:
    """A value of the wrong TOML type is a mistake in the file: say which setting and what it wants."""
    if isinstance(current, tuple):
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        wanted = 'text like "a,b" or a list of texts like ["a", "b"]'
    elif isinstance(current, bool):
        ok, wanted = isinstance(value, bool | str), "true or false"
    elif isinstance(current, int | float):
        ok = isinstance(value, int | float | str) and not isinstance(value, bool)
        wanted = "a number"
    else:  # text settings, and optional ones whose default is None
        ok, wanted = isinstance(value, str), "text in quotes"
    if not ok:
        # Never the value itself: it may be a key typed into the wrong setting.
        raise UsageError(
            f"config.toml: {name} must be {wanted}, not {_toml_type(value)}",
            hint=f"fix it in {config_path()}",
        )


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        return "text"
    return "a date or time"


def _coerce(name: str, value: Any, current: Any) -> Any:
    if isinstance(current, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(current, int) and not isinstance(current, bool):
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name} must be a whole number, not {value!r}") from exc
    if isinstance(current, float):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name} must be a number, not {value!r}") from exc
    if isinstance(current, tuple):
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(str(v) for v in value)
    return value


def resolve_settings(
    flags: dict[str, Any],
    config: dict[str, Any] | None = None,
    saved: Settings | None = None,
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Merge config file, environment and flags (flags given as None are not set).

    With ``saved`` (a resumed session), the saved settings replace config and environment defaults;
    flags still win, and API keys still come from config, environment or flags, never the session.
    """
    base = saved or Settings()
    values: dict[str, Any] = {}
    known = {f.name: getattr(base, f.name) for f in fields(Settings)}
    key_source = None
    keys: tuple[str, ...] = ()
    config = load_config() if config is None else config
    for warning in unknown_keys(config):
        if warn is not None:
            warn(warning)
    layer: dict[str, Any] = {}
    for name, value in config.items():
        if name in ("api_key", "api_keys"):
            _check_type(name, value, ())
            keys = _coerce(name, value, ())
            key_source = "config"
        elif name in _CONFIG_KEYS and saved is None:
            _check_type(name, value, known[name])
            layer[name] = _coerce(name, value, known[name])
    _take_layer(values, layer)
    layer = {}
    for name in known:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None and name not in ("api_keys", "api_key_source") and saved is None:
            layer[name] = _coerce(name, env, known[name])
    _take_layer(values, layer)
    layer = {}
    asr = flags.get("asr") or values.get("asr") or base.asr
    # deAPI keys are not OpenAI keys: --asr deapi reads DEAPI_API_KEY, never OPENAI_API_KEY.
    key_vars = ("DEAPI_API_KEY", ENV_PREFIX + "API_KEY") if asr == "deapi" else None
    for env_name in key_vars or (ENV_PREFIX + "API_KEY", "OPENAI_API_KEY"):
        if os.environ.get(env_name):
            keys = _coerce(env_name, os.environ[env_name], ())
            key_source = f"env:{env_name}"
            break
    for name, value in flags.items():
        if value is None:
            continue
        if name == "api_keys":
            keys = _coerce(name, value, ())
            key_source = "flag:--api-key"
        elif name in known:
            layer[name] = _coerce(name, value, known[name])
    _take_layer(values, layer)
    settings = base.evolve(**values, api_keys=keys, api_key_source=key_source if keys else None)
    return settings.validate()


def _take_layer(values: dict[str, Any], layer: dict[str, Any]) -> None:
    """Apply one source's values over the earlier ones'.

    A worker count asks for parallel work the same way from every source (`workers = 8` in
    config.toml, BULKSCRIBE_WORKERS=8, --workers 8), unless that source also says `parallel`.
    """
    values.update(layer)
    if "workers" in layer and "parallel" not in layer:
        values["parallel"] = int(layer["workers"]) > 1
