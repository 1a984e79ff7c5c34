"""Settings from config.toml, then the environment, then command-line flags (each overriding the last)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import platformdirs

from engine.errors import UsageError
from engine.settings import Settings

ENV_PREFIX = "BULKSCRIBE_"


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
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"cannot read config file {path}: {exc}", hint="fix or remove the file"
        ) from exc
    return {str(k).replace("-", "_"): v for k, v in data.items()}


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
    flags: dict[str, Any], config: dict[str, Any] | None = None, saved: Settings | None = None
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
    layer: dict[str, Any] = {}
    for name, value in config.items():
        if name in ("api_key", "api_keys"):
            keys = _coerce(name, value, ())
            key_source = "config"
        elif name in known and name not in ("api_keys", "api_key_source") and saved is None:
            layer[name] = _coerce(name, value, known[name])
    _take_layer(values, layer)
    layer = {}
    for name in known:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None and name not in ("api_keys", "api_key_source") and saved is None:
            layer[name] = _coerce(name, env, known[name])
    _take_layer(values, layer)
    layer = {}
    for env_name in (ENV_PREFIX + "API_KEY", "OPENAI_API_KEY"):
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
