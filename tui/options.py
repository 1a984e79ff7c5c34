"""The command line's options, declared once: the table builds the parser and maps flags to settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


def _opt(*flags: str, help: str, **kwargs: Any) -> Option:
    spec = {k: kwargs.pop(k) for k in ("setting", "dest", "group", "read", "also") if k in kwargs}
    return Option(flags, help, kwargs=kwargs, **spec)


RUN, ASR, EPISODES, OUTPUT, ENGINE, QUOTA = (
    None, "transcription", "episodes of feeds and playlists", "output", "engine", "shared quota",
)  # fmt: skip
TRUE, FALSE = {"action": "store_const", "const": True}, {"action": "store_const", "const": False}

OPTIONS: tuple[Option, ...] = (
    _opt("--headless", dest="headless", action="store_true",
         help="no full-screen app: progress on stderr, for scripts"),
    _opt("--resume", dest="resume", nargs="?", const="latest", metavar="ID",
         help="carry on the last unfinished session (or session ID) without asking"),
    _opt("--new", dest="new", action="store_true",
         help="start a new session; never offer to resume"),
    _opt("--dry-run", dest="dry_run", action="store_true",
         help="parse and count inputs, estimate requests and time; touch no API"),
    _opt("--asr", setting="asr", group=ASR, choices=ASR_ENGINES,
         help="ASR engine (default auto: captions, then API if a key is set, else whisper, else sphinx)"),
    _opt("--api-base", setting="api_base", group=ASR,
         help="API root (default https://api.openai.com/v1; with --asr deapi https://api.deapi.ai)"),
    _opt("--api-key", setting="api_keys", group=ASR, action="append", read=split_keys,
         help="API key (repeat or comma-separate for several keys); default $OPENAI_API_KEY "
         "($DEAPI_API_KEY with --asr deapi)"),
    _opt("--model", setting="model", group=ASR,
         help="transcription model for the API (default whisper-1)"),
    _opt("--whisper-model", setting="whisper_model", group=ASR,
         help="faster-whisper model name, fetched once into its cache, or a model folder (default small)"),
    _opt("--lang", setting="languages", group=ASR, also=("asr_language", first_language),
         help="preferred caption languages, e.g. en,en-US; the first is also sent to the API "
         "(without it the API detects the language)"),
    _opt("--response-format", setting="response_format", group=ASR, choices=RESPONSE_FORMATS,
         help="what to ask the API for (default auto: by model, json if verbose_json is refused)"),
    _opt("--no-captions", setting="captions", group=ASR, **FALSE,
         help="always transcribe audio, never use existing captions"),
    _opt("--chunk-seconds", setting="chunk_seconds", group=ASR, type=float,
         help="cut long media into chunks of this many seconds (default 600)"),
    _opt("--deapi-plan", setting="deapi_plan", group=ASR, choices=DEAPI_PLANS,
         help="deAPI account type, for its limits: basic 1/min and 10/day, premium 300/min"),
    _opt("--daily-limit", setting="daily_limit", group=ASR, type=int,
         help="requests per UTC day for deAPI (default: the plan's)"),
    _opt("--yes", dest="yes", group=ASR, action="store_true",
         help="run even when the estimated price is above the deAPI balance (no question asked)"),
    _opt("--cookies", setting="cookies", group=ASR,
         help="cookies.txt for sites that need a signed-in browser session"),
    _opt("--columns", dest="columns", group=ASR,
         help="spreadsheet column mapping, e.g. url=Link,title=Name"),
    _opt("--sheet", dest="sheet", group=ASR,
         help="workbook sheet to read (default: the first visible one)"),
    _opt("--captions-only", setting="captions_only", group=ASR, **TRUE,
         help="fail an item that has no usable captions instead of transcribing its audio"),
    _opt("--since", setting="since", group=EPISODES,
         help="only episodes published on or after DATE (YYYY-MM-DD)"),
    _opt("--latest", setting="latest", group=EPISODES, type=int, metavar="N",
         help="only the N newest episodes"),
    _opt("--episodes", setting="episodes", group=EPISODES, metavar="LIST",
         help="only these episode numbers, e.g. 3,5-9"),
    _opt("-o", "--output", setting="output", group=OUTPUT,
         help="output folder (default ./transcripts-DATE-TIME)"),
    _opt("--formats", setting="formats", group=OUTPUT,
         help=f"comma-separated, from {','.join(FORMATS)} (default md)"),
    _opt("--timestamps", setting="timestamps", group=OUTPUT, **TRUE,
         help="timestamps at each paragraph"),
    _opt("--notify", setting="notify", group=OUTPUT, choices=NOTIFY,
         help="when a batch finishes: a bell, or a desktop notification via the terminal "
         "(OSC 9 or 777); default off"),
    _opt("--workers", setting="workers", group=ENGINE, type=int,
         help="worker threads, 1-64 (above 1 turns parallel on; default 2 when parallel)"),
    _opt("--parallel", setting="parallel", group=ENGINE, **TRUE,
         help="run items in parallel (default off)"),
    _opt("--no-parallel", setting="parallel", group=ENGINE, **FALSE, help="one item at a time"),
    _opt("--rate-limit", setting="rate_limit", group=ENGINE,
         help="transcription API limit, e.g. 300/min or 5/s,300/min (default 300/min)"),
    _opt("--media-rate-limit", setting="media_rate_limit", group=ENGINE,
         help="limit for YouTube and media hosts (default 60/min)"),
    _opt("--rate-mode", setting="rate_mode", group=ENGINE, choices=MODES,
         help="one pool for all workers (shared) or one per worker/key"),
    _opt("--max-retry-after", setting="max_retry_after", group=ENGINE, type=float,
         help="longest Retry-After pause obeyed at once, in seconds (default 900)"),
    _opt("--order", setting="order", group=ENGINE, choices=ORDERS,
         help="processing order (default input)"),
    _opt("--retries", setting="retries", group=ENGINE, type=int,
         help="retries of transient errors per request (default 3)"),
    _opt("--redis", setting="redis", group=QUOTA, metavar="URL",
         help="share the API quota with every bulkscribe using this Redis (redis://host:6379/0)"),
    _opt("--quota", setting="quota", group=QUOTA, metavar="NAME",
         help="name of the shared quota (default: a hash of the API base and key)"),
    _opt("--distribute", setting="distribute", group=QUOTA, **TRUE,
         help="spread the batch over 'bulkscribe worker' processes on any host using --redis "
         "(--workers 0: this process only coordinates)"),
)  # fmt: skip


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
