"""Candle rows -> OpenAlgo history frame (spec 8.2, 8.3; contract 9.5; upstream-review D14).

Timestamps arrive in several shapes and all of them mean IST:

* ``"2025-02-01 09:45"`` (historical mock, intraday): IST wall time, no offset;
* ``"2024-01-01T09:15:00+05"``: the offset is IST truncated to whole hours. Python and
  pandas would read it as +05:00 and shift every bar by 30 minutes, so ``+05`` is read as
  +05:30;
* full ISO forms (``+05:30``, ``+0530``, ``Z``, fractions) are taken at face value.

Intraday bars get the epoch of their true instant (IST wall time - 5:30). Daily bars get
OpenAlgo's zerodha convention: the epoch of 00:00 UTC of their IST trading date, which
renders as that date in IST. Nothing here depends on the host's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from ..clock import IST, IST_OFFSET_SECONDS
from ..host import get_logger
from ..mapping.book_values import as_float, as_int, first_present

if TYPE_CHECKING:
    import pandas as pd

log = get_logger(__name__)

SECONDS_PER_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

HISTORY_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume", "oi")
_DTYPES = {"timestamp": "int64", "open": "float64", "high": "float64", "low": "float64", "close": "float64",
           "volume": "int64", "oi": "int64"}

# An offset of whole hours only, at the end: "+05" / "-03".
_HOUR_ONLY_OFFSET = re.compile(r"([+-])(\d{2})$")
_FALLBACK_FORMATS = ("%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y")

Candle = tuple[int, float, float, float, float, int, int]


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - _EPOCH_ORDINAL


def date_of_day_number(number: int) -> date:
    return date.fromordinal(number + _EPOCH_ORDINAL)


def parse_instant(value: Any) -> int:
    """Epoch seconds of a candle timestamp (see the module docstring); ``ValueError`` if unreadable."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
        return int(seconds / 1000 if abs(seconds) > 1e11 else seconds)  # milliseconds, if that large
    text = str(value).strip()
    if len(text) == 16 and text[4] == "-" and text[7] == "-" and text[10] in " T" and text[13] == ":":
        wall = datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]))
        return _ist_wall_epoch(wall)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = _HOUR_ONLY_OFFSET.search(text) if len(text) > 10 else None
    if match and text[match.start() - 1].isdigit():
        sign, hours = match.groups()
        # mStock's "+05" is IST with the minutes cut off (spec 8.2 [CONFLICT]).
        minutes = "30" if (sign, hours) == ("+", "05") else "00"
        text = f"{text[: match.start()]}{sign}{hours}:{minutes}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _parse_fallback(text)
    if parsed.tzinfo is None:
        return _ist_wall_epoch(parsed)
    return int(parsed.timestamp())


def _parse_fallback(text: str) -> datetime:
    for fmt in _FALLBACK_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised candle timestamp {text!r}")


def _ist_wall_epoch(wall: datetime) -> int:
    return int(wall.replace(tzinfo=IST).timestamp())


def ist_day_of(epoch: int) -> int:
    """Day number of the IST calendar date of an instant."""
    return (epoch + IST_OFFSET_SECONDS) // SECONDS_PER_DAY


def _fields(row: Any) -> tuple[Any, Any, Any, Any, Any, Any, Any] | None:
    if isinstance(row, (list, tuple)):
        if len(row) < 5:
            return None
        padded = list(row[:7]) + [None] * (7 - min(len(row), 7))
        return tuple(padded)  # type: ignore[return-value]
    if isinstance(row, Mapping):
        return (
            first_present(row, "timestamp", "time", "datetime", "date"),
            row.get("open"),
            row.get("high"),
            row.get("low"),
            row.get("close"),
            row.get("volume"),
            first_present(row, "oi", "openInterest"),
        )
    return None


def parse_candles(
    rows: Iterable[Any], *, daily: bool, first_day: int | None = None, last_day: int | None = None
) -> tuple[list[Candle], int]:
    """Candles from mStock rows ``[ts, o, h, l, c, v(, oi)]``; returns (candles, rows skipped).

    Rows whose timestamp or prices are unreadable are skipped (and counted) rather than
    becoming NaN. ``first_day``/``last_day`` (IST day numbers) drop bars outside the range
    asked for, in case the server is generous at the edges. mStock sends no OI (spec 8.2),
    so ``oi`` is 0 unless a seventh column appears.
    """
    out: list[Candle] = []
    skipped = 0
    nan = float("nan")
    for row in rows:
        fields = _fields(row)
        if fields is None:
            skipped += 1
            continue
        ts, o, h, l, c, v, oi = fields
        prices = (as_float(o, nan), as_float(h, nan), as_float(l, nan), as_float(c, nan))
        if any(p != p for p in prices):  # NaN check without numpy
            skipped += 1
            continue
        try:
            epoch = parse_instant(ts)
        except (TypeError, ValueError):
            skipped += 1
            continue
        day = ist_day_of(epoch)
        if (first_day is not None and day < first_day) or (last_day is not None and day > last_day):
            continue
        if daily:
            epoch = day * SECONDS_PER_DAY
        out.append((epoch, *prices, as_int(v), as_int(oi)))
    if skipped:
        log.warning("skipped %d unreadable candle rows", skipped)
    return out, skipped


def end_labels_to_start(bars: Sequence[Candle], *, opens: time, minutes: int) -> list[Candle]:
    """Bars labelled with the end of their bucket, relabelled with its start.

    Buckets run ``minutes`` long from the session open ``opens`` (IST), so ``10:15`` -> the
    09:15 bar and a short last bar ``15:30`` -> 15:15 for hourly NSE bars. A label at or
    before the open is left as it is.
    """
    open_minute = opens.hour * 60 + opens.minute
    out: list[Candle] = []
    for bar in bars:
        wall_minute = ((bar[0] + IST_OFFSET_SECONDS) % SECONDS_PER_DAY) // 60
        elapsed = wall_minute - open_minute
        if elapsed <= 0:
            out.append(bar)
            continue
        start = open_minute + ((elapsed - 1) // minutes) * minutes
        out.append((bar[0] - (wall_minute - start) * 60, *bar[1:]))
    return out


def empty_frame() -> pd.DataFrame:
    import pandas as pd  # only history needs pandas: the other faces load without it

    return pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in _DTYPES.items()})


def to_frame(candles: Sequence[Candle]) -> pd.DataFrame:
    """Ascending by timestamp, one row per timestamp (the later source wins), no NaN."""
    if not candles:
        return empty_frame()
    import pandas as pd

    frame = pd.DataFrame.from_records(list(candles), columns=list(HISTORY_COLUMNS)).astype(_DTYPES)
    frame = frame.drop_duplicates(subset="timestamp", keep="last")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def resample(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Weekly (``"W"``) or monthly (``"M"``) bars from daily bars.

    A week starts on Monday and its bar is dated that Monday (00:00 UTC of the date, the
    daily convention), even when Monday was a holiday; a month's bar is dated the 1st.
    Open is the first daily open, close the last close, volume the sum, OI the last.
    """
    if frame.empty:
        return empty_frame()
    days = frame["timestamp"] // SECONDS_PER_DAY
    if rule == "W":
        # 1970-01-01 was a Thursday: (days + 3) % 7 is the weekday with Monday = 0.
        label_days = days - (days + 3) % 7
    elif rule == "M":
        label_days = days.map(lambda n: day_number(date_of_day_number(int(n)).replace(day=1)))
    else:
        raise ValueError(f"unknown resample rule {rule!r}")
    grouped = frame.assign(_label=label_days.astype("int64")).groupby("_label", sort=True)
    out = grouped.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        oi=("oi", "last"),
    ).reset_index()
    out["timestamp"] = out["_label"] * SECONDS_PER_DAY
    return out[list(HISTORY_COLUMNS)].astype(_DTYPES).reset_index(drop=True)
