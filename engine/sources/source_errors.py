"""What a yt-dlp failure means to a person: a short cause, what to do, and the raw text, minus secrets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from engine.errors import SourceError

_COOKIES = "use --cookies FILE from a browser session that can see it"
_NETWORK = "network problem"  # retried on its own while attempts remain; the hint says so
_RETRIED = "retried automatically a few times; if it still fails, retry the item later"

# (pattern, message, hint, transient). The first match wins, so specific site answers come
# before HTTP codes, and HTTP codes before transport noise: "Unable to download webpage:
# HTTP Error 404" is a missing page, not a network problem.
# fmt: off
ERROR_RULES: tuple[tuple[str, str, str, bool], ...] = (
    (r"private video|video is private", "private video", _COOKIES, False),
    (r"confirm your age|age[- ]restricted|inappropriate for some", "age-restricted video", _COOKIES, False),
    (r"not a bot|sign in to|log ?in required|only available for registered users",
     "the site wants a signed-in browser session", _COOKIES, False),
    (r"members[- ]only|join this channel", "members-only video", _COOKIES, False),
    (r"available in your country|not available from your location|geo[- ]?restrict",
     "blocked in this region", "it cannot be fetched from this network's country", False),
    (r"video unavailable|video is (?:unavailable|not available)|no longer available|has been removed"
     r"|does not exist", "video unavailable (removed or never existed)", "check the link in a browser", False),
    (r"\bDRM[- ]protected", "DRM-protected media cannot be downloaded", "", False),
    (r"premieres in|live event will begin", "not streamed yet", "add it again after it airs", False),
    (r"HTTP Error 429|too many requests|try again later", _NETWORK,
     "the site is rate limiting; lower its request rate if this keeps happening", True),
    (r"HTTP Error 40[14]|HTTP Error 410", "not found at this URL", "check the link", False),
    (r"HTTP Error 403", "access refused by the host", _COOKIES, False),
    (r"HTTP Error 4\d\d", "the host rejected the request", "check the link", False),
    (r"HTTP Error 5\d\d", _NETWORK, "the host had a server error; " + _RETRIED, True),
    (r"timed? ?out|unable to download (?:webpage|json|api|video data)|connection (?:refused|reset|aborted)"
     r"|name or service not known|name resolution|nodename nor servname|getaddrinfo|no route to host"
     r"|network is unreachable|remote end closed|incomplete ?read|giving up after", _NETWORK, _RETRIED, True),
    (r"unsupported url|is not a valid url|no video formats found|requested format is not avail",
     "no media found at this URL", "check that the link opens a video or audio page", False),
)
# fmt: on
_COMPILED_RULES = tuple(
    (re.compile(pattern, re.IGNORECASE), message, hint, transient)
    for pattern, message, hint, transient in ERROR_RULES
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\")<>]+", re.IGNORECASE)
_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:token|key|api_?key|access_token|auth|sig|signature|password|pass|pot)=)[^&#\s]*"
)


def source_error(exc: BaseException | str) -> SourceError:
    """A SourceError for a yt-dlp failure: what it means, what to do, the raw text last."""
    raw = _clean_raw(str(exc))
    for pattern, message, hint, transient in _COMPILED_RULES:
        if pattern.search(raw):
            return SourceError(f"{message}: {raw}", hint=hint, transient=transient)
    return SourceError(f"could not read this source: {raw}", transient=False)


def _clean_raw(text: str) -> str:
    text = _ANSI.sub("", text).removeprefix("ERROR: ").strip()
    text = text.split("; please report this issue on", 1)[0]
    text = " ".join(text.split())
    text = _URL.sub(lambda m: _strip_credentials(m.group(0)), text)
    return text if len(text) <= 600 else text[:597] + "..."


def _strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        url = url.replace(parts.netloc, host, 1)
    return _SECRET_PARAMS.sub(r"\1***", url)
