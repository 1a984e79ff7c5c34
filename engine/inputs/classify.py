"""Tell what one input string is (YouTube video, playlist, web URL, local file) and normalise it."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from engine.redact import strip_userinfo

# fmt: off
MEDIA_EXTENSIONS = frozenset({
    ".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".opus", ".wma", ".aiff",
    ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".3gp",
})
# fmt: on

# Kinds of file people reach for that we cannot read, with what to do instead.
_CONVERT_HINTS = {
    ".xls": "save it as .xlsx or .csv",
    ".ods": "save it as .xlsx or .csv",
    ".numbers": "export it as .csv",
}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BARE_WEB = re.compile(
    # YouTube's hosts with something after them (a bare "youtu.be" names no video), or www. then
    # a host name with a top-level domain ("www.example.org", "www.пример.рф"): text such as
    # "WWW.0" or "YOUTU.BE" in a title is never taken for a web address.
    r"^(?:(?:(?:www\.|m\.|music\.)?(?:youtube\.com|youtube-nocookie\.com)|(?:www\.)?youtu\.be)[/?#]"
    r"|www\.(?:[\w-]+\.)+(?:[^\W\d_]{2,}|xn--[\w-]+)(?::\d+)?(?:[/?#]|$))",
    re.IGNORECASE,
)
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_LIST_ID = re.compile(r"[A-Za-z0-9_-]+")
_YT_HOSTS = frozenset(
    {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "youtube-nocookie.com",
        "www.youtube-nocookie.com",
    }
)
_YT_SHORT_HOSTS = frozenset({"youtu.be", "www.youtu.be"})
_YT_ID_PATHS = frozenset({"shorts", "embed", "live", "v", "e"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Classified = tuple[str, str, str | None]


def strip_credentials(text: str) -> str:
    """Remove ``user:password@`` from a URL so it is never stored or shown (linear in length)."""
    return strip_userinfo(text)


def has_url_scheme(text: str) -> bool:
    """True when ``text`` starts with a URL scheme such as ``https:`` (a drive letter is not one)."""
    match = _SCHEME.match(text.strip())
    return bool(match and len(match.group(1)) > 1)


def looks_like_url(text: str) -> bool:
    """True when ``text`` has a URL scheme or is a bare web address such as ``youtu.be/ID``."""
    return has_url_scheme(text) or bool(_BARE_WEB.match(text.strip()))


def classify(text: str, *, bases: Sequence[Path] = ()) -> Classified:
    """Return (kind, normalised location, error) for one input; never raises.

    Relative paths are looked up in ``bases`` in order (the current folder when none are given).
    """
    # A last guard: one odd entry must never stop the whole run.
    try:
        return _classify(text, bases)
    except (ValueError, OSError, RuntimeError) as exc:
        return "invalid", "", f"cannot understand this entry ({type(exc).__name__})"


def _classify(text: str, bases: Sequence[Path]) -> Classified:
    text = strip_credentials(_unquote_pasted(text.strip()))
    if not text:
        return _invalid("empty entry")
    bad = _control_character(text)
    if bad:
        return _invalid(f"contains a control character ({bad}); check for a pasting mistake")
    if has_url_scheme(text):
        return _classify_url(text, text.partition(":")[0].lower())
    found = _find_path(text, bases)
    if found is None and _BARE_WEB.match(text):
        return _classify_url("https://" + text, "https")
    return _classify_path(text, found, bases)


def _classify_url(text: str, scheme: str) -> Classified:
    if any(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text):
        return _invalid(
            "URL contains a space or invisible character; remove it or encode it as %20"
        )
    if scheme == "file":
        return _classify_file_url(text)
    if scheme not in _DEFAULT_PORTS:
        return _invalid(f"unsupported URL scheme '{scheme}:' (use http or https, or a local path)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:  # bad brackets or a port that is not a number in range
        return _invalid(f"malformed URL: {exc}")
    if not host:
        return _invalid("URL has no host name")
    if host in _YT_HOSTS or host in _YT_SHORT_HOSTS:
        return _classify_youtube(host, parts.path, parts.query)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    # The fragment never reaches the server, so two links differing only there are the same media.
    return "url", urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), None


def _classify_youtube(host: str, path: str, query: str) -> Classified:
    params = parse_qs(query)
    segments = [s for s in path.split("/") if s]
    video: str | None = None
    if host in _YT_SHORT_HOSTS:
        video = segments[0] if segments else ""
    elif segments[:1] == ["watch"]:
        video = params.get("v", [None])[0]
    elif len(segments) >= 2 and segments[0] in _YT_ID_PATHS and segments[1] != "videoseries":
        video = segments[1]
    if video is not None:
        if _VIDEO_ID.fullmatch(video):
            return "youtube", f"https://www.youtube.com/watch?v={video}", None
        return _invalid(
            "YouTube link without a valid video id (expected 11 letters, digits, - or _)"
        )
    playlist = params.get("list", [None])[0]
    if playlist is not None:
        if _LIST_ID.fullmatch(playlist):
            return "playlist", f"https://www.youtube.com/playlist?list={playlist}", None
        return _invalid("YouTube playlist link with an invalid list id")
    return _invalid(
        "YouTube link is not a video or a playlist (channels and searches are not supported)"
    )


def _classify_file_url(text: str) -> Classified:
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        return _invalid("file: URLs on another computer are not supported; use a local path")
    path = unquote(parts.path)
    if not path.startswith("/"):
        return _invalid("file: URL without an absolute path")
    return _classify_path(path, _find_path(path, ()), ())


def _find_path(text: str, bases: Sequence[Path]) -> Path | None:
    path = Path(os.path.expanduser(text))
    candidates = [path] if path.is_absolute() else [b / path for b in bases or (Path.cwd(),)]
    for candidate in candidates:
        try:
            os.stat(candidate)
        except (OSError, ValueError):
            continue
        return candidate
    return None


def _classify_path(text: str, found: Path | None, bases: Sequence[Path]) -> Classified:
    if found is None:
        broken = _broken_link(text, bases)
        if broken is not None:
            return _invalid(broken)
        return _invalid(f"file not found: {text}{_not_found_hint(text, bases)}")
    if found.is_dir():
        return _invalid(f"{text} is a folder; pass the folder itself as an argument to scan it")
    if not found.is_file():
        # A FIFO would block the reader and a device like /dev/zero never ends.
        return _invalid(f"{text} is not a regular file (a pipe, device or socket); copy it first")
    suffix = found.suffix.lower()
    if suffix not in MEDIA_EXTENSIONS:
        what = f"'{suffix}'" if suffix else "no extension"
        hint = _CONVERT_HINTS.get(suffix, "expected an audio or video file such as .mp3 or .mp4")
        return _invalid(f"not an audio or video file: {text} ({what}; {hint})")
    return "file", str(found.resolve()), None


def _broken_link(text: str, bases: Sequence[Path]) -> str | None:
    """The reason when the name exists only as a link that leads nowhere (missing or looping)."""
    path = Path(os.path.expanduser(text))
    for candidate in [path] if path.is_absolute() else [b / path for b in bases or (Path.cwd(),)]:
        try:
            target = os.readlink(candidate)
        except (OSError, ValueError):
            continue
        return f"broken link: {text} points to {target}, which is missing or loops back on itself"
    return None


def _not_found_hint(text: str, bases: Sequence[Path]) -> str:
    invisible = next((ch for ch in text if unicodedata.category(ch) == "Cf"), None)
    if invisible is not None:
        # A zero-width space or a bidi mark pasted along with a name makes it unreadable in messages.
        code = f"U+{ord(invisible):04X}"
        return f" (it contains an invisible character, {code}; check for a pasting mistake)"
    if text.startswith("="):
        return " (this looks like a spreadsheet formula; export the values instead)"
    if _VIDEO_ID.fullmatch(text):
        return f" (if this is a YouTube video id, use https://youtu.be/{text})"
    path = Path(os.path.expanduser(text))
    if path.is_absolute():
        return ""
    places = [str(b) for b in bases or (Path.cwd(),)]
    return f" (looked in {', '.join(dict.fromkeys(places))})"


def _unquote_pasted(text: str) -> str:
    # "Copy as path" wraps names in quotes; the quotes are not part of the name.
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _control_character(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X}"
    return None


def _invalid(reason: str) -> Classified:
    return "invalid", "", reason
