"""The intervals ``get_history`` serves (contract 9.5, 9.6) and how big a history chunk may be.

mStock serves ONE_MINUTE .. ONE_DAY (spec 8.2). Weekly and monthly bars are built here by
resampling daily bars, so ``W`` and ``M`` are advertised too; nothing else is (no 2m, 20m,
2h... and no seconds), because OpenAlgo must only see intervals that really work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import time
from types import MappingProxyType
from typing import Final

from ..errors import ValidationError


@dataclass(frozen=True)
class Interval:
    key: str  # OpenAlgo interval
    broker: str  # mStock "interval" value (historical and intraday)
    minutes: int | None  # bar length; None for daily-based bars
    resample: str | None = None  # "W" or "M": built from daily bars

    @property
    def daily(self) -> bool:
        return self.minutes is None


INTERVALS: Final = MappingProxyType(
    {
        i.key: i
        for i in (
            Interval("1m", "ONE_MINUTE", 1),
            Interval("3m", "THREE_MINUTE", 3),
            Interval("5m", "FIVE_MINUTE", 5),
            Interval("10m", "TEN_MINUTE", 10),
            Interval("15m", "FIFTEEN_MINUTE", 15),
            Interval("30m", "THIRTY_MINUTE", 30),
            Interval("1h", "ONE_HOUR", 60),
            Interval("D", "ONE_DAY", None),
            Interval("W", "ONE_DAY", None, resample="W"),
            Interval("M", "ONE_DAY", None, resample="M"),
        )
    }
)

# BrokerData.timeframe_map: OpenAlgo reads only the keys (contract 9.6).
TIMEFRAME_MAP: Final = MappingProxyType({key: i.broker for key, i in INTERVALS.items()})

# Bars per request. Not documented for Type B; Type A states 1000 "regardless of
# timeframe" and upstream applies it to B (spec 2.1, 8.2).
HISTORY_BAR_LIMIT: Final = 1000
# What an hourly bar's timestamp means: "start" (09:15 is the bar 09:15-10:15) or "end"
# (10:15 is that same bar, 15:30 the last, short one). The only published hourly sample
# has HH:45 labels whose meaning is unknown (spec 8.2); ``doctor --live`` shows which one a
# live account sends. With "end", bars are relabelled by their start on the session grid.
HOURLY_LABELS: Final = "start"
# Plan chunks for 95% of the limit: weekend special sessions (budget Saturday, Muhurat
# Sunday) add bars that a weekday count cannot foresee.
CHUNK_BAR_BUDGET: Final = 950

# Longest trading session per OpenAlgo exchange, in minutes: NSE/BSE cash and F&O
# 09:15-15:30; currency 09:00-17:00; MCX 09:00-23:55 (rounded up).
SESSION_MINUTES: Final = MappingProxyType(
    {
        "NSE": 375,
        "BSE": 375,
        "NFO": 375,
        "BFO": 375,
        "NSE_INDEX": 375,
        "BSE_INDEX": 375,
        "CDS": 480,
        "BCD": 480,
        "MCX": 900,
    }
)
_DEFAULT_SESSION_MINUTES: Final = 900

# Session open per OpenAlgo exchange: minute bars are bucketed from here, so a chunk that
# ends inside a session ends on a bar boundary.
SESSION_OPEN: Final = MappingProxyType(
    {
        "NSE": time(9, 15),
        "BSE": time(9, 15),
        "NFO": time(9, 15),
        "BFO": time(9, 15),
        "NSE_INDEX": time(9, 15),
        "BSE_INDEX": time(9, 15),
        "CDS": time(9, 0),
        "BCD": time(9, 0),
        "MCX": time(9, 0),
    }
)
_DEFAULT_SESSION_OPEN: Final = time(9, 0)


def interval_for(key: str) -> Interval:
    """The :class:`Interval` for an OpenAlgo interval; ``ValidationError`` if not served."""
    try:
        return INTERVALS[key]
    except KeyError:
        served = ", ".join(INTERVALS)
        raise ValidationError(f"interval {key!r} is not supported by mStock (supported: {served})") from None


def bars_per_session(interval: Interval, exchange: str) -> int:
    """Most bars one trading day can hold (a partial last bar counts: 375/60 -> 7)."""
    if interval.daily:
        return 1
    minutes = SESSION_MINUTES.get(exchange, _DEFAULT_SESSION_MINUTES)
    return math.ceil(minutes / interval.minutes)


def trading_days_per_chunk(interval: Interval, exchange: str, budget: int = CHUNK_BAR_BUDGET) -> int:
    """Weekdays one historical call may span and stay within the bar budget (at least 1)."""
    return max(1, budget // bars_per_session(interval, exchange))


def session_open(exchange: str) -> time:
    return SESSION_OPEN.get(exchange, _DEFAULT_SESSION_OPEN)


def splits_sessions(interval: Interval) -> bool:
    """Minute bars are packed by the bar (chunks may end inside a session); hourly and
    daily bars by whole days (hourly labels such as HH:45 are not on a known grid, spec 8.2)."""
    return interval.minutes is not None and interval.minutes < 60
