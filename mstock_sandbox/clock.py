"""Time in the sandbox: IST, the trading session and its minute grid.

Everything mStock says about time is IST (spec 1.5). The cash session runs 09:15-15:30,
375 one-minute bars; there is no holiday calendar (weekends only, and not even those when
the sandbox runs with ``always_open``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)
SESSION_MINUTES = 375

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(IST)


def make_clock(clock: Clock | None) -> Clock:
    """Wrap a configured clock so it always returns an aware IST datetime."""
    source = clock or wall_clock

    def now() -> datetime:
        value = source()
        if value.tzinfo is None:
            return value.replace(tzinfo=IST)
        return value.astimezone(IST)

    return now


def next_midnight(moment: datetime) -> datetime:
    day = moment.astimezone(IST).date() + timedelta(days=1)
    return datetime.combine(day, time(0, 0), IST)


def is_weekday(day: date) -> bool:
    return day.weekday() < 5


def previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_weekday(day):
        day -= timedelta(days=1)
    return day


def trading_days(start: date, end: date) -> list[date]:
    """Weekdays from ``start`` to ``end`` inclusive."""
    days: list[date] = []
    current = start
    while current <= end:
        if is_weekday(current):
            days.append(current)
        current += timedelta(days=1)
    return days


def minute_start(day: date, index: int) -> datetime:
    """Start time of the ``index``-th one-minute bar of ``day`` (0 = 09:15)."""
    return datetime.combine(day, SESSION_OPEN, IST) + timedelta(minutes=index)


def minutes_elapsed(now: datetime, *, always_open: bool) -> int:
    """How many one-minute bars of today's session exist at ``now`` (0..375).

    With ``always_open`` every day trades and, outside market hours, today's session is
    shown complete, so the demo has data at night and on weekends.
    """
    local = now.astimezone(IST)
    if not always_open and not is_weekday(local.date()):
        return 0
    opened = datetime.combine(local.date(), SESSION_OPEN, IST)
    elapsed = int((local - opened).total_seconds() // 60) + 1
    if elapsed <= 0:
        return SESSION_MINUTES if always_open else 0
    return min(elapsed, SESSION_MINUTES)


def has_session(day: date, *, always_open: bool) -> bool:
    return always_open or is_weekday(day)
