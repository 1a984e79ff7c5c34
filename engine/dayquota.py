"""Moved to engine/limits/dayquota.py; kept for imports not yet updated."""

from engine.limits.dayquota import DayQuota as DayQuota
from engine.limits.dayquota import WallClock as WallClock
from engine.limits.dayquota import pause_text as pause_text
