"""Reading what deAPI sends back: a finished transcript into timed segments, error bodies into
typed errors.

The request-status page (docs.deapi.ai/api/v1/utilities/get-results) shows ``result`` and
``result_url`` but not the shape of a transcript. With ``include_ts`` Whisper output comes either
as JSON (``{"text": ..., "segments": [{"start", "end", "text"}]}``, the "output=json (text +
segments)" of deAPI's model list) or as text with a ``[start --> end]`` stamp on each line; both
are read here, and anything else becomes one segment over the whole piece.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from engine.errors import AuthError, LowBalance, ProviderError, RateLimited
from engine.providers.base import Transcript
from engine.segments import Segment

_STAMP = re.compile(
    r"^\s*\[\s*(?P<start>[\d:.,]+)s?\s*(?:-->|->|-)\s*(?P<end>[\d:.,]+)s?\s*\]\s*(?P<text>.*)$"
)


def parse_result(result: Any, duration: float | None) -> Transcript:
    """Segments (times relative to the submitted piece) from an inline result or a downloaded one."""
    if isinstance(result, str):
        text = result.strip()
        if text[:1] in ("{", "["):
            try:
                return parse_result(json.loads(text), duration)
            except json.JSONDecodeError:
                pass
        return _from_text(text, duration)
    if isinstance(result, list):
        return Transcript(_segments(result))
    if isinstance(result, dict):
        language = result.get("language")
        raw = result.get("segments")
        if isinstance(raw, list) and raw:
            return Transcript(_segments(raw), language if isinstance(language, str) else None)
        text = str(result.get("text") or result.get("transcription") or "").strip()
        return _from_text(text, duration)
    raise ProviderError("deAPI sent a result of an unexpected shape", transient=True)


def _segments(raw: list[Any]) -> tuple[Segment, ...]:
    out = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        try:
            start, end = float(entry.get("start", 0.0)), float(entry.get("end", 0.0))
        except (TypeError, ValueError):
            continue
        text = str(entry.get("text", "")).strip()
        if text:
            out.append(Segment(start, max(start, end), text))
    return tuple(out)


def _from_text(text: str, duration: float | None) -> Transcript:
    stamped = []
    loose = []
    for line in text.splitlines():
        match = _STAMP.match(line)
        if match and match["text"].strip():
            start, end = _seconds(match["start"]), _seconds(match["end"])
            if start is not None and end is not None:
                stamped.append(Segment(start, max(start, end), match["text"].strip()))
                continue
        if line.strip():
            loose.append(line.strip())
    if stamped:
        return Transcript(tuple(stamped))
    joined = " ".join(loose)
    return Transcript((Segment(0.0, duration or 0.0, joined),) if joined else ())


def _seconds(stamp: str) -> float | None:
    """``83.5``, ``01:23.500`` or ``00:01:23,500`` as seconds."""
    try:
        total = 0.0
        for part in stamp.replace(",", ".").split(":"):
            total = total * 60 + float(part)
        return total
    except ValueError:
        return None


def error_fields(errors: Any) -> list[tuple[str, str]]:
    """(field, message) pairs from an error body's ``errors``: a list or a field -> messages map."""
    pairs: list[tuple[str, str]] = []
    if isinstance(errors, dict):
        for name, messages in errors.items():
            if isinstance(messages, list):
                text = "; ".join(str(m) for m in messages)
            else:
                text = str(messages)
            pairs.append((str(name), text[:200]))
    elif isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, dict):
                name = entry.get("field") or entry.get("name") or entry.get("path") or "request"
                text = entry.get("message") or entry.get("msg") or ""
                pairs.append((str(name), str(text)[:200]))
            elif entry:
                pairs.append(("request", str(entry)[:200]))
    return pairs


def data_of(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProviderError("deAPI sent an unreadable JSON reply", transient=True) from exc
    return body.get("data") if isinstance(body, dict) else None


def job_error(data: dict[str, Any]) -> str:
    # The status page shows no error field; the first of these that is present is reported.
    for name in ("error", "error_message", "message", "details"):
        value = data.get(name)
        if value:
            return str(value)[:300]
    return "no details given"


def error_for(response: httpx.Response) -> ProviderError:
    """A typed error from deAPI's error body (docs.deapi.ai/api/errors):
    ``{"data": null, "message": "...", "errors": [...], "statusCode": 401}``.
    """
    status = response.status_code
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    message = str(body.get("message", ""))[:200] if isinstance(body, dict) else ""
    fields = error_fields(body.get("errors") if isinstance(body, dict) else None)
    said = f": {message}" if message else ""
    if status == 401:
        return AuthError(
            f"deAPI refused the key (401){said}",
            hint="check DEAPI_API_KEY / --api-key",
            status=status,
        )
    if status == 422:
        if any("balance" in name.lower() for name, _ in fields):
            return LowBalance(
                f"deAPI refused the job for lack of funds (422){said}",
                hint="top up the deAPI account, then resume",
                status=status,
            )
        named = "; ".join(f"{name}: {text}" for name, text in fields) or message
        return ProviderError(
            f"deAPI rejected the request (422 validation): {named or 'no details given'}",
            status=status,
        )
    if status == 429:
        return _rate_limited(response, said)
    if status == 404:
        return ProviderError(f"deAPI has no such resource (404){said}", status=status)
    if status >= 500 or status in (408, 409):
        return ProviderError(f"deAPI failed ({status}){said}", transient=True, status=status)
    return ProviderError(f"deAPI rejected the request ({status}){said}", status=status)


def _rate_limited(response: httpx.Response, said: str) -> ProviderError:
    from engine.providers.openai import parse_retry_after

    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return RateLimited(f"rate limited by deAPI (429){said}", status=429, retry_after=retry_after)
