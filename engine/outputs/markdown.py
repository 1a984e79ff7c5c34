"""The Markdown note: YAML frontmatter that Obsidian reads as properties, then the transcript."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

import yaml

from engine.outputs.document import TranscriptDoc, one_line, paragraphs
from engine.outputs.timecodes import hms, stamp

FIXED_KEYS = (
    "title",
    "source",
    "url",
    "channel",
    "upload_date",
    "duration",
    "duration_hms",
    "method",
    "engine",
    "language",
    "timing",
    "processed_at",
    "tags",
    "description",
    "show",
    "date",
    "episode",
    "link",
)
DESCRIPTION_LIMIT = 500  # longer descriptions would bury the properties panel, so they are left out
EXTRA_PREFIX = "extra_"

# A transcript line must never become markup: headings, quotes, lists, rules, fences, tables, HTML,
# link definitions. Backslash-escaping the first character keeps it plain text when rendered.
_BLOCK_START = re.compile(r"[#>\-+*=_`~|<\[]")
_ORDERED = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_CLOSING_HASHES = re.compile(r"(^|\s)(#+)$")
_UNSAFE_BREAKS = re.compile("[\x85\u2028\u2029]")


def extra_keys(extras: Mapping[str, str]) -> dict[str, str]:
    """Map each spreadsheet column to its property name; columns never replace the fixed keys.

    A column named like a fixed key is prefixed ("title" -> "extra_title"), after every other
    column has kept its own name, and compared case-insensitively as Obsidian does.
    """
    taken = {key.casefold() for key in FIXED_KEYS}
    names: dict[str, str] = {}
    for key in extras:
        if str(key).casefold() not in taken:
            names[key] = str(key)
            taken.add(str(key).casefold())
    for key in extras:
        if key in names:
            continue
        name = str(key)
        while name.casefold() in taken:
            name = EXTRA_PREFIX + name
        taken.add(name.casefold())
        names[key] = name
    return names


def _date(value: str | None) -> dt.date | str | None:
    # A real date is written unquoted, so Obsidian shows it as a Date property.
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return value


def frontmatter(doc: TranscriptDoc) -> dict[str, object]:
    """The note's properties, in the order they should appear; None values are left out."""
    known = doc.duration is not None and math.isfinite(doc.duration) and doc.duration >= 0
    description = doc.description
    fields: dict[str, object | None] = {
        "title": doc.title,
        "source": doc.source,
        "url": doc.url,
        "channel": doc.channel,
        "upload_date": _date(doc.upload_date),
        "duration": round(doc.duration) if known and doc.duration is not None else None,
        "duration_hms": hms(doc.duration) if known and doc.duration is not None else None,
        "method": doc.method,
        "engine": doc.engine,
        "language": doc.language,
        "timing": doc.timing,
        "processed_at": doc.processed_at or None,
        "tags": list(doc.tags),
        "description": description
        if description and len(description) < DESCRIPTION_LIMIT
        else None,
        "show": doc.show,
        "date": _date(doc.date),
        "episode": doc.episode,
        "link": doc.link,
    }
    names = extra_keys(doc.extras)
    for key, value in doc.extras.items():
        fields[names[key]] = None if value is None else str(value)
    return {key: value for key, value in fields.items() if value is not None}


class _FrontmatterDumper(yaml.SafeDumper):
    """The safe dumper, with strings that PyYAML would not read back forced into double quotes."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML writes NEL and the Unicode line/paragraph separators raw, as line breaks, in plain
    # and single-quoted scalars; reading folds them into spaces. Double quotes escape them.
    style = '"' if _UNSAFE_BREAKS.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_FrontmatterDumper.add_representer(str, _represent_str)


def dump_frontmatter(fields: dict[str, object]) -> str:
    """The YAML block between the --- lines (without them); one property per line."""
    return yaml.dump(
        fields,
        Dumper=_FrontmatterDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=2**31 - 1,  # no folding: a long title stays on its key's line
    )


def plain_line(text: str) -> str:
    """Text that starts a line but must render as itself, not as Markdown block syntax."""
    ordered = _ORDERED.match(text)
    if ordered:
        return f"{ordered.group(1)}\\{text[ordered.end(1) :]}"
    if _BLOCK_START.match(text):
        return "\\" + text
    return text


def heading(text: str) -> str:
    """Heading text that keeps trailing "#" characters (Markdown would drop them as a closing run)."""
    return _CLOSING_HASHES.sub(lambda m: m.group(1) + "\\" + m.group(2), one_line(text))


def render_markdown(doc: TranscriptDoc, *, timestamps: bool = False) -> str:
    """The whole note: frontmatter, title heading, chapter headings and paragraphs."""
    long_form = doc.length() >= 3600
    blocks = [f"# {heading(doc.title) or heading(doc.source) or 'Untitled'}"]
    for paragraph in paragraphs(doc):
        if paragraph.chapter:
            blocks.append(f"## {heading(paragraph.chapter)}")
        if timestamps:
            blocks.append(f"{stamp(paragraph.start, long_form=long_form)} {paragraph.text}")
        else:
            blocks.append(plain_line(paragraph.text))
    body = "\n\n".join(blocks)
    return f"---\n{dump_frontmatter(frontmatter(doc))}---\n\n{body}\n"
