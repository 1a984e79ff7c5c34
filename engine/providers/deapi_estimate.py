"""What a batch will cost on deAPI, asked of deAPI itself (price-calculation), next to the balance.

"Up-to-date prices are always available via the /price endpoint" (docs.deapi.ai/pricing): each URL
is priced by ``vid2txt/price-calculation`` with its ``video_url`` (deAPI reads the length itself);
a local file by its length (``duration_seconds``). The price endpoints are not in the published
limits table, so their calls go through a pool of their own, apart from the Whisper one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.errors import BulkscribeError, RateLimited
from engine.limits.limiter import Limiter
from engine.limits.services import Service

PRICE_SERVICE = Service.DEAPI_PRICE
PRICE_RATE = "60/min"
ASSUMED_SECONDS = 20 * 60.0  # a media URL deAPI cannot read itself: length unknown until fetched
RETRIES = 3


@dataclass(frozen=True, slots=True)
class Priced:
    source: str
    price: float | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Estimate:
    items: tuple[Priced, ...]
    balance: float | None
    sampled: int = 0  # 0: every item priced; else prices of this many URLs stand for the rest

    @property
    def total(self) -> float:
        return sum(p.price for p in self.items if p.price is not None)

    @property
    def exceeds_balance(self) -> bool:
        return self.balance is not None and self.total > self.balance


def estimate(
    deapi: Any,
    sources: Sequence[Any],
    *,
    limiter: Limiter | None = None,
    sample_urls: int | None = None,
    probe: Callable[[Path], Any] | None = None,
) -> Estimate:
    """Price every valid source; with ``sample_urls``, a quick estimate: that many URLs stand for
    the rest, and the local files are priced together by their total length."""
    if probe is None:
        from engine.audio.decode import probe as probe_media

        probe = probe_media
    pool = limiter or Limiter(PRICE_SERVICE, PRICE_RATE)

    def ask(call: Callable[[], float]) -> float:
        for attempt in range(RETRIES + 1):
            pool.acquire()
            try:
                return call()
            except RateLimited as exc:
                if attempt == RETRIES:
                    raise
                pool.throttle(exc.retry_after)
        raise AssertionError("unreachable")

    rows: list[Priced] = []
    url_prices: list[float] = []
    unpriced_urls: list[Any] = []
    file_seconds: list[float] = []
    for source in sources:
        if not source.valid:
            continue
        try:
            if source.kind == "file":
                seconds = probe(Path(source.location)).duration or 0.0
                if sample_urls is not None:
                    file_seconds.append(seconds)  # priced together below: one request, not N
                    continue
                rows.append(Priced(source.raw, ask(partial(deapi.price_seconds, seconds))))
            elif deapi.accepts_url(source.location):
                if sample_urls is not None and len(url_prices) >= sample_urls:
                    unpriced_urls.append(source)
                    continue
                price = ask(partial(deapi.price_url, source.location))
                url_prices.append(price)
                rows.append(Priced(source.raw, price))
            elif source.kind in ("url", "youtube"):
                price = ask(lambda: deapi.price_seconds(ASSUMED_SECONDS))
                rows.append(Priced(source.raw, price, "length unknown: priced as 20 min"))
            else:
                rows.append(Priced(source.raw, None, "priced once its entries are known"))
        except BulkscribeError as exc:
            rows.append(Priced(source.raw, None, exc.user_text))
    if file_seconds:
        total = sum(file_seconds)
        try:
            together: float | None = ask(partial(deapi.price_seconds, total))
            note = f"{len(file_seconds)} local files, {total / 60:.1f} min in all"
        except BulkscribeError as exc:
            together, note = None, exc.user_text
        rows.append(Priced("local files", together, note))
    if unpriced_urls:
        average = sum(url_prices) / len(url_prices)
        rows.extend(Priced(s.raw, average, "average of the priced links") for s in unpriced_urls)
    try:
        balance: float | None = deapi.balance()
    except BulkscribeError:
        balance = None
    return Estimate(tuple(rows), balance, len(url_prices) if unpriced_urls else 0)


def dollars(value: float | None) -> str:
    if value is None:
        return "?"
    return f"${value:,.4f}" if value and abs(value) < 0.01 else f"${value:,.2f}"
