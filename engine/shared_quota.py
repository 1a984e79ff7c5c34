"""Moved to engine/limits/shared.py; kept for imports not yet updated."""

from engine.limits.shared import SharedQuota as SharedQuota
from engine.limits.shared import quota_name as quota_name
