"""India Standard Time, the one time zone mStock speaks (spec 1.5).

Every timestamp mStock sends or expects is IST (UTC+05:30, no daylight saving), and its
sessions end at IST midnight (spec 2.2). Modules take ``IST`` from here rather than
building their own offset.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
IST_OFFSET_SECONDS = 5 * 3600 + 30 * 60


def now_ist() -> datetime:
    """The current moment, aware, in IST."""
    return datetime.now(IST)


def today_ist(now: datetime | None = None) -> date:
    """Today's date in India, whatever the host's time zone (an aware ``now`` may be injected)."""
    moment = now if now is not None else now_ist()
    if moment.tzinfo is None:
        raise ValueError("today_ist needs an aware datetime")
    return moment.astimezone(IST).date()


def next_ist_midnight(moment: datetime) -> datetime:
    """The first IST midnight after an aware ``moment``: when mStock sessions end (spec 2.2)."""
    day = moment.astimezone(IST).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=IST)
