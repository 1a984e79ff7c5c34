"""Moved to engine/limits/headers.py; kept for imports not yet updated."""

from engine.limits.headers import ServerQuota as ServerQuota
from engine.limits.headers import parse_retry_after as parse_retry_after
from engine.limits.headers import quota_from_headers as quota_from_headers
