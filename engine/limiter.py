"""Moved to engine/limits/; kept for imports not yet updated."""

from engine.limits.limiter import Limiter as Limiter
from engine.limits.permit import Permit as Permit
from engine.limits.pools import INDEPENDENT as INDEPENDENT
from engine.limits.pools import MODES as MODES
from engine.limits.pools import SHARED as SHARED
from engine.limits.stats import LimiterStats as LimiterStats
