"""The rate-limited services by name: the one place those names are written."""

from __future__ import annotations

from typing import Final


class Service:
    """Names of the services a limiter paces.

    Plain strings, not an enum: they travel as they are in events, stats, JSON and YAML.
    """

    # The transcription API (OpenAI-compatible servers, deAPI): keys, quotas and Redis are about it.
    ASR: Final = "asr"
    # YouTube and media hosts: one host seen from one address, so its limit stays shared.
    MEDIA: Final = "media"
    # deAPI's price endpoint, asked while estimating a batch's cost.
    DEAPI_PRICE: Final = "deapi-price"
