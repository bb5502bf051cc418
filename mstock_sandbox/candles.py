"""Historical (spec 8.2) and intraday (spec 8.3) candles.

Historical: completed sessions only (never today), ascending, at most ``limit`` bars per
call; a longer range is truncated to its first (oldest) ``limit`` bars and the reply's
message says so. Timestamps are ``YYYY-MM-DD HH:MM`` for intraday intervals and
``YYYY-MM-DDT00:00:00+05`` for ONE_DAY -- both formats of spec 8.2's [CONFLICT], so
clients are proven against each. Bars are labelled with their start time, except
ONE_HOUR bars when ``SandboxConfig.hourly_labels`` is "end": those carry the time their
bucket ends (10:15 ... 15:15, and 15:30 for the last, 15-minute bar).

Intraday: today's bars up to the current minute, newest first, ``YYYY-MM-DD HH:MM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .clock import IST, SESSION_MINUTES, minute_start, trading_days
from .envelopes import bad_input
from .instruments import Instrument
from .pricing import Bar, PriceModel, aggregate

INTERVAL_MINUTES: dict[str, int] = {
    "ONE_MINUTE": 1,
    "THREE_MINUTE": 3,
    "FIVE_MINUTE": 5,
    "TEN_MINUTE": 10,
    "FIFTEEN_MINUTE": 15,
    "THIRTY_MINUTE": 30,
    "ONE_HOUR": 60,
    "ONE_DAY": SESSION_MINUTES,
}

# Spec 8.2: the docs, OpenAlgo, the Node SDK and the Python SDK each use one of these.
_DATE_FORMATS = (
    ("%Y-%m-%d %H:%M", True),
    ("%Y-%m-%d %H:%M:%S", True),
    ("%Y-%m-%d", False),
    ("%d-%m-%Y %H:%M", True),
    ("%d-%m-%Y", False),
)

Candle = list  # [timestamp, open, high, low, close, volume]


def parse_interval(text: str) -> int:
    minutes = INTERVAL_MINUTES.get((text or "").strip().upper())
    if minutes is None:
        raise bad_input(f"Invalid interval {text}. Valid intervals are {', '.join(INTERVAL_MINUTES)}.")  # [INVENTED]
    return minutes


def parse_when(text: str, *, end_of_day: bool) -> datetime:
    """One of the accepted date formats; a bare date means the whole day."""
    text = (text or "").strip()
    for fmt, has_time in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not has_time and end_of_day:
            parsed = datetime.combine(parsed.date(), time(23, 59))
        return parsed.replace(tzinfo=IST)
    raise bad_input(f"Invalid date {text!r}. Use YYYY-MM-DD HH:MM.")  # [INVENTED]


def _round(inst: Instrument, bar: Bar) -> tuple[float, float, float, float, int]:
    digits = inst.decimals()
    o, h, low, c, v = bar
    return (round(o, digits), round(h, digits), round(low, digits), round(c, digits), 0 if inst.is_index else int(v))


def _buckets(bars: list[Bar], minutes: int) -> list[tuple[int, Bar]]:
    """(first minute index, aggregated bar) for each ``minutes``-wide bucket from 09:15."""
    return [(start, aggregate(bars[start : start + minutes])) for start in range(0, len(bars), minutes)]


def _label(day: date, first: int, minutes: int, labels: str) -> datetime:
    """A bucket's timestamp: its first minute, or (hourly bars with ``labels="end"``) its end."""
    if labels == "end" and minutes == 60:
        return minute_start(day, min(first + minutes, SESSION_MINUTES))
    return minute_start(day, first)


@dataclass
class HistoryResult:
    candles: list[Candle]
    truncated: bool


def historical(
    model: PriceModel,
    inst: Instrument,
    *,
    interval: int,
    start: datetime,
    end: datetime,
    today: date,
    limit: int,
    hourly_labels: str = "start",
) -> HistoryResult:
    if start > end:
        raise bad_input("From date should not be later than to date.")  # [INVENTED]
    last_day = min(end.date(), today - timedelta(days=1))  # completed sessions only
    params = model.params(inst)
    candles: list[Candle] = []
    for day in trading_days(start.date(), last_day):
        if interval >= SESSION_MINUTES:
            o, h, low, c, v = _round(inst, model.daily_bar(params, day))
            candles.append([f"{day.isoformat()}T00:00:00+05", o, h, low, c, v])
        else:
            for first, bar in _buckets(model.day_bars(params, day), interval):
                begins = minute_start(day, first)
                if start <= begins <= end:
                    o, h, low, c, v = _round(inst, bar)
                    label = _label(day, first, interval, hourly_labels)
                    candles.append([label.strftime("%Y-%m-%d %H:%M"), o, h, low, c, v])
        if len(candles) > limit:
            return HistoryResult(candles[:limit], True)
    return HistoryResult(candles, False)


def intraday(
    model: PriceModel, inst: Instrument, *, interval: int, day: date, minutes: int, hourly_labels: str = "start"
) -> list[Candle]:
    """Today's candles so far, newest first (spec 8.3)."""
    if minutes <= 0:
        return []
    bars = model.day_bars(model.params(inst), day)[:minutes]
    out: list[Candle] = []
    for first, bar in _buckets(bars, min(interval, SESSION_MINUTES)):
        o, h, low, c, v = _round(inst, bar)
        out.append([_label(day, first, interval, hourly_labels).strftime("%Y-%m-%d %H:%M"), o, h, low, c, v])
    out.reverse()
    return out
