"""The command line's options, declared once in options.toml: they build the parser and map flags
to settings."""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NoReturn

from engine.errors import UsageError
from engine.limits.pools import MODES
from engine.run.queue import ORDERS
from engine.settings import ASR_ENGINES, DEAPI_PLANS, FORMATS, NOTIFY, RESPONSE_FORMATS


class UsageParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are usage errors (one line and exit 2, like the others)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint="see bulkscribe --help")


def split_keys(given: list[str] | None) -> tuple[str, ...] | None:
    """The keys of every --api-key, each one possibly a comma-separated list; None when none."""
    if not given:
        return None
    return tuple(k.strip() for raw in given for k in raw.split(",") if k.strip())


def first_language(languages: str | None) -> str | None:
    if not languages:
        return None
    first = languages.split(",")[0].strip()
    return first or None


@dataclass(frozen=True)
class Option:
    """One option: its flags, help and argparse arguments, and the Settings field it sets.

    ``setting`` is also the parsed value's name; an option with no setting (``dest`` instead) only
    steers this run. ``read`` turns the parsed value into the setting's; ``also`` is a second
    setting worked out from the same value.
    """

    flags: tuple[str, ...]
    help: str
    setting: str | None = None
    dest: str | None = None
    group: str | None = None
    read: Callable[[Any], Any] | None = None
    also: tuple[str, Callable[[Any], Any]] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.setting or self.dest or self.flags[-1].lstrip("-").replace("-", "_")


# What the data file names and only code can be: the engine's word lists and the functions.
CHOICES: dict[str, tuple[str, ...]] = {
    "ASR_ENGINES": ASR_ENGINES,
    "DEAPI_PLANS": DEAPI_PLANS,
    "MODES": MODES,
    "NOTIFY": NOTIFY,
    "ORDERS": ORDERS,
    "RESPONSE_FORMATS": RESPONSE_FORMATS,
}
FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": float,
    "split_keys": split_keys,
    "first_language": first_language,
}
ARGPARSE_KEYS = frozenset({"action", "nargs", "const", "metavar", "choices", "type"})
OPTION_KEYS = frozenset({"flags", "help", "setting", "dest", "read", "also"}) | ARGPARSE_KEYS


def load_options(text: str) -> tuple[Option, ...]:
    """The options that a TOML text like tui/options.toml declares, names resolved."""
    options = []
    for group in tomllib.loads(text)["group"]:
        for row in group["option"]:
            unknown = set(row) - OPTION_KEYS
            if unknown:
                raise ValueError(f"option {row['flags']}: unknown keys {sorted(unknown)}")
            kwargs = {k: v for k, v in row.items() if k in ARGPARSE_KEYS}
            if "choices" in kwargs:
                kwargs["choices"] = CHOICES[kwargs["choices"]]
            if "type" in kwargs:
                kwargs["type"] = FUNCTIONS[kwargs["type"]]
            also = row.get("also")
            options.append(
                Option(
                    flags=tuple(row["flags"]),
                    help=row["help"].format(FORMATS=",".join(FORMATS)),
                    setting=row.get("setting"),
                    dest=row.get("dest"),
                    group=group.get("title"),
                    read=FUNCTIONS[row["read"]] if "read" in row else None,
                    also=(also[0], FUNCTIONS[also[1]]) if also else None,
                    kwargs=kwargs,
                )
            )
    return tuple(options)


OPTIONS: tuple[Option, ...] = load_options(
    resources.files("tui").joinpath("options.toml").read_text(encoding="utf-8")
)


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option] = OPTIONS) -> None:
    """Add each option to the parser, in its group (groups in the order they first appear)."""
    groups: dict[str | None, Any] = {None: parser}
    for option in options:
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        groups[option.group].add_argument(
            *option.flags, dest=option.name, help=option.help, **option.kwargs
        )


def settings_flags(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (None: not given), for every option ``args`` has."""
    flags: dict[str, object] = {}
    for option in OPTIONS:
        if option.setting is None or not hasattr(args, option.setting):
            continue
        value = getattr(args, option.setting)
        flags[option.setting] = option.read(value) if option.read else value
        if option.also is not None:
            name, work_out = option.also
            flags[name] = work_out(value)
    return flags
