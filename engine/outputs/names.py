"""File names that are safe on every desktop filesystem, unique per folder, and never leave it."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.errors import OutputError

UNTITLED = "untitled"
DEFAULT_MAX_LEN = 120
# Stems the batch itself uses for its reports; an item titled "manifest" must not overwrite manifest.json.
REPORT_STEMS = ("manifest", "items")

# Windows refuses these as a base name whatever the extension ("con.txt" is the console too);
# it also treats superscript digits as digits for COM/LPT.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"}
)
_DASHED = str.maketrans({"/": "-", "\\": "-", "|": "-"})
_SPACED = str.maketrans({c: " " for c in '*?"<>'})
_COLON = re.compile(":")


def _drop_unsafe(text: str) -> str:
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            out.append(" ")  # a newline or tab in a title separates words
        elif category not in ("Cf", "Cs"):
            # Cf: bidi overrides, zero-width joiners, BOM; Cs: lone surrogates cannot be encoded.
            out.append(ch)
    return "".join(out)


def _colon(match: re.Match[str]) -> str:
    # "Talk: Part 1" reads best as "Talk - Part 1"; "12:30" as "12-30".
    return " -" if match.end() < len(match.string) and match.string[match.end()].isspace() else "-"


def _clip(text: str, max_bytes: int) -> str:
    """Cut to max_bytes of UTF-8 at a character boundary, without orphaning combining marks."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    clipped = raw[:max_bytes].decode("utf-8", errors="ignore")
    if len(clipped) < len(text) and unicodedata.combining(text[len(clipped)]):
        # The next char attaches to the last kept one; drop the base too so no accent is lost halfway.
        while clipped and unicodedata.combining(clipped[-1]):
            clipped = clipped[:-1]
        clipped = clipped[:-1]
    return clipped


def _unreserve(stem: str) -> str:
    base, dot, rest = stem.partition(".")
    if base.rstrip(" ").upper() in _RESERVED:
        return f"{base.rstrip(' ')}_{dot}{rest}"
    return stem


def safe_stem(title: str, *, max_len: int = DEFAULT_MAX_LEN) -> str:
    """A file-name stem (no extension) safe on Windows, macOS and Linux, at most max_len UTF-8 bytes."""
    if max_len < len(UNTITLED):
        raise ValueError(f"max_len must be at least {len(UNTITLED)} bytes")
    text = unicodedata.normalize("NFC", _drop_unsafe(unicodedata.normalize("NFC", title)))
    text = _COLON.sub(_colon, text.translate(_DASHED).translate(_SPACED))
    text = " ".join(text.split())
    text = _clip(text.strip(" ."), max_len).strip(" .")
    if not text:
        return UNTITLED
    # The reserved suffix adds a byte, so clip again; what remains still starts with "CON_".
    return _clip(_unreserve(text), max_len).rstrip(" .")


def fold(stem: str) -> str:
    """The identity of a stem on a case-insensitive filesystem (macOS, Windows)."""
    return unicodedata.normalize("NFC", stem.casefold())


class NameBook:
    """Hands out unique stems within one output folder; thread-safe, and stable per key."""

    def __init__(
        self,
        folder: Path,
        existing: Iterable[str] = (),
        *,
        claimed: Mapping[str, str] | None = None,
        max_len: int = DEFAULT_MAX_LEN,
    ) -> None:
        self.folder = Path(folder)
        self.max_len = max_len
        self._lock = threading.Lock()
        self._by_key: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[str] = {fold(stem) for stem in (*REPORT_STEMS, *existing)}
        if self.folder.is_dir():
            self._taken.update(
                fold(entry.stem)
                for entry in self.folder.iterdir()
                if not entry.name.startswith(".")
            )
        # Keys whose files are this session's own: written in this run, or restored from a saved
        # session. Their files may be replaced; any other claim's files must be new on disk.
        self._owned: set[str] = set()
        # Claims restored from a saved session keep their stems even though their files now exist.
        for key, stem in (claimed or {}).items():
            self._by_key[key] = stem
            self._taken.add(fold(stem))
            self._owned.add(key)

    def claim(self, title: str, key: str) -> str:
        """A stem for title unused in this folder; the same key always gets the same stem."""
        with self._lock:
            known = self._by_key.get(key)
            if known is not None:
                return known
            base = safe_stem(title, max_len=self.max_len)
            stem = base
            # Remember where counting stopped, so a thousand "Untitled" items cost no more than one.
            n = self._counters.get(fold(base), 1)
            while fold(stem) in self._taken:
                n += 1
                suffix = f" ({n})"
                stem = safe_stem(title, max_len=self.max_len - len(suffix)) + suffix
            self._counters[fold(base)] = n
            self._taken.add(fold(stem))
            self._by_key[key] = stem
            return stem

    def owns(self, key: str) -> bool:
        """True when key's files were written by this session, so rewriting them is no harm."""
        with self._lock:
            return key in self._owned

    def written(self, key: str) -> None:
        """key's files are on disk now, written by us."""
        with self._lock:
            self._owned.add(key)

    def forget(self, key: str) -> None:
        """key's stem turned out to be taken on disk: the next claim gives it another."""
        with self._lock:
            self._by_key.pop(key, None)
            self._owned.discard(key)

    def claims(self) -> dict[str, str]:
        """Key -> stem for everything claimed so far, to save with a session and pass back on resume."""
        with self._lock:
            return dict(self._by_key)


def inside(folder: Path, path: Path) -> Path:
    """The resolved path, or OutputError if it (or a symlink on its way) points outside folder."""
    root = Path(folder).resolve()
    target = (root / path).resolve()
    if target == root or not target.is_relative_to(root):
        raise OutputError(
            f"refusing to write outside the output folder: {path}",
            hint=f"output files must stay inside {root}",
        )
    return target
