"""Moved to engine/limits/ratespec.py; kept for imports not yet updated."""

from engine.limits.ratespec import parse_rate as parse_rate
