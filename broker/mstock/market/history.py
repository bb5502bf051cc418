"""Historical candles for ``BrokerData.get_history`` (spec 8.2, 8.3; contract 9.5; D13, D14).

* Dates are inclusive IST calendar dates (``date``, ``datetime`` or ``"YYYY-MM-DD"``);
  "today" is today in IST, whatever the host's time zone.
* Past sessions come from ``instruments/historical``, which serves completed sessions only;
  today's bars from ``instruments/intraday`` (numeric exchange code, newest first).
* Long ranges are cut into chunks that touch without gap or overlap, so no day is lost at
  an edge (upstream lost the last day of every chunk, D13) and no bar is fetched twice.
  Minute bars are packed bar by bar up to the limit (a chunk may end inside a session, on
  the bar grid); hourly and daily bars by whole days ``[first 00:00 .. last 23:59]`` within
  the bar budget of :mod:`.intervals`. A chunk that comes back at the bar limit was
  probably truncated (a weekend special session) and is split and fetched again; so is a
  chunk mStock refuses for holding too many bars (what it does beyond the limit is
  unknown, spec 8.2).
* Hourly bars are relabelled by their start if mStock labels them by their end
  (:data:`.intervals.HOURLY_LABELS`).
* Every call goes through the shared Data-API limiter (1 request/s) in the client; two
  workers keep one request in flight while the next waits for its slot, so a long range
  takes the pacing floor, not pacing + latency. A chunk that still fails after the
  client's retries raises :class:`HistoryRangeLost` naming the lost dates; no silent gaps.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from ..clock import IST, today_ist
from ..errors import AuthError, ConfigError, InputRejected, MStockError, ValidationError
from ..host import get_logger
from ..mapping.exchanges import INTRADAY_EXCHANGE_CODE
from ..mapping.symbols import require_instrument
from . import candles
from .intervals import (
    HISTORY_BAR_LIMIT,
    HOURLY_LABELS,
    Interval,
    bars_per_session,
    interval_for,
    session_open,
    splits_sessions,
    trading_days_per_chunk,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..host import SymbolLookup
    from ..records import SymbolRecord
    from ..transport.client import MStockClient

log = get_logger(__name__)

Progress = Callable[[int, int], None]
DEFAULT_WORKERS = 2

# A refusal for asking too many bars: "Maximum 1000 candles are allowed per request" and
# the like (mStock's real text is unknown, spec 8.2).
_TOO_MANY_BARS = re.compile(
    r"(?i)\b(?:max(?:imum)?|limit|up\s*to|at\s*most|exceed\w*|more\s*than)\b.{0,40}?\b(?:candles?|bars?|records?)\b"
    r"|\b(?:candles?|bars?|records?)\b.{0,40}?\b(?:max(?:imum)?|limit|exceed\w*|more\s*than)\b"
)


def refused_for_size(exc: MStockError) -> bool:
    """Whether ``exc`` is mStock refusing a historical call for asking too many bars."""
    if not isinstance(exc, InputRejected) or isinstance(exc, AuthError):
        return False
    return bool(_TOO_MANY_BARS.search(exc.message))


class HistoryRangeLost(MStockError):
    """Part of the requested history could not be fetched; ``first_day``..``last_day`` are missing."""

    def __init__(self, message: str, *, first_day: date, last_day: date, cause: MStockError) -> None:
        super().__init__(message, http_status=cause.http_status, code=cause.code, route=cause.route)
        self.first_day = first_day
        self.last_day = last_day
        self.cause = cause


@dataclass(frozen=True)
class Chunk:
    """One call: from ``first`` at ``start`` to ``last`` at ``end`` (IST, inclusive).

    ``today`` marks the intraday call. Whole-day chunks run 00:00-23:59; a minute-bar chunk
    may start or end inside a session, on a bar boundary.
    """

    first: date
    last: date
    today: bool = False
    start: time = time(0, 0)
    end: time = time(23, 59)

    def label(self) -> str:
        first = self.first.isoformat() if self.start == time(0, 0) else f"{self.first} {self.start:%H:%M}"
        last = self.last.isoformat() if self.end == time(23, 59) else f"{self.last} {self.end:%H:%M}"
        return first if first == last else f"{first}..{last}"


# ------------------------------------------------------------------ dates


def to_ist_date(value: Any) -> date:
    """An inclusive IST calendar date from ``date``/``datetime``/``pd.Timestamp``/``"YYYY-MM-DD"``
    (contract 9.5: the type varies by caller). Aware datetimes are converted to IST first."""
    pandas = sys.modules.get("pandas")  # a pandas value exists only if pandas is loaded; never load it here
    if value is None or (pandas is not None and value is pandas.NaT) or isinstance(value, (bool, int, float)):
        raise ValidationError(f"not a date: {value!r} (use YYYY-MM-DD)")
    if isinstance(value, datetime):  # includes pd.Timestamp
        return value.astimezone(IST).date() if value.tzinfo is not None else value.date()
    if isinstance(value, date):
        return value
    try:
        if isinstance(value, str):
            text = value.strip()
            return date.fromisoformat(text) if len(text) == 10 else to_ist_date(datetime.fromisoformat(text))
        import pandas as pd

        return to_ist_date(pd.Timestamp(value).to_pydatetime())  # e.g. numpy.datetime64
    except (TypeError, ValueError):
        raise ValidationError(f"not a date: {value!r} (use YYYY-MM-DD)") from None


def plan_chunks(first: date, last: date, weekdays_per_chunk: int) -> list[Chunk]:
    """Contiguous chunks covering ``first``..``last`` exactly once.

    Each chunk holds at most ``weekdays_per_chunk`` weekdays and ends on its last weekday
    (or on ``last``); weekend days belong to the chunk that follows them, so a range made of
    a weekend alone is still asked for once (special sessions do happen on weekends).
    """
    chunks: list[Chunk] = []
    start = first
    while start <= last:
        end = start
        weekdays = 1 if start.weekday() < 5 else 0
        while end < last:
            following = end + timedelta(days=1)
            if following.weekday() < 5:
                if weekdays >= weekdays_per_chunk:
                    break
                weekdays += 1
            end = following
        chunks.append(Chunk(start, end))
        start = end + timedelta(days=1)
    return chunks


def plan_bar_chunks(first: date, last: date, *, bars_per_day: int, minutes: int, opens: time, budget: int) -> list[Chunk]:
    """Chunks of at most ``budget`` minute bars covering ``first``..``last`` exactly once.

    Weekdays are packed bar by bar, so a chunk may end inside a session: it then ends one
    minute before the next chunk's first bar, on the session's bar grid. This makes the
    fewest calls the bar limit allows (a year of 1-minute NSE bars: 99 calls instead of 131
    whole-day ones) while consecutive chunks still touch without a gap or an overlap.
    Weekend days ride along with the chunk around them (special sessions get fetched; if
    they overflow a chunk, the truncation check splits it).
    """
    chunks: list[Chunk] = []
    chunk_first, chunk_start = first, time(0, 0)
    room = budget
    taken_today = 0  # bars of ``day`` already given to earlier chunks
    day = first
    while day <= last:
        if day.weekday() >= 5:
            day += timedelta(days=1)
            continue
        left_today = bars_per_day - taken_today
        if left_today < room:
            room -= left_today
            taken_today = 0
            day += timedelta(days=1)
            continue
        if left_today == room:  # the chunk ends exactly at this day's close
            chunks.append(Chunk(chunk_first, day, start=chunk_start))
            day += timedelta(days=1)
            chunk_first, chunk_start, room, taken_today = day, time(0, 0), budget, 0
            continue
        taken_today += room
        cut = datetime.combine(day, opens) + timedelta(minutes=taken_today * minutes)
        chunks.append(Chunk(chunk_first, day, start=chunk_start, end=(cut - timedelta(minutes=1)).time()))
        chunk_first, chunk_start, room = day, cut.time(), budget
    if chunk_first <= last:
        chunks.append(Chunk(chunk_first, last, start=chunk_start))
    return chunks


def plan_history(first: date, last: date, interval: Interval, exchange: str) -> list[Chunk]:
    """The historical calls for ``first``..``last`` (completed sessions only)."""
    if splits_sessions(interval):
        return plan_bar_chunks(
            first,
            last,
            bars_per_day=bars_per_session(interval, exchange),
            minutes=interval.minutes or 1,
            opens=session_open(exchange),
            # One bar short of the limit: a full reply is then never mistaken for a truncated one.
            budget=HISTORY_BAR_LIMIT - 1,
        )
    return plan_chunks(first, last, trading_days_per_chunk(interval, exchange))


# ------------------------------------------------------------------ requests


def historical_body(record: "SymbolRecord", interval: Interval, chunk: Chunk) -> dict[str, str]:
    return {
        "exchange": record.brexchange,
        "symboltoken": str(record.token),
        "interval": interval.broker,
        "fromdate": f"{chunk.first.isoformat()} {chunk.start:%H:%M}",
        "todate": f"{chunk.last.isoformat()} {chunk.end:%H:%M}",
    }


def intraday_body(record: "SymbolRecord", exchange: str, interval: Interval) -> dict[str, str]:
    return {"exchange": INTRADAY_EXCHANGE_CODE[exchange], "symboltoken": str(record.token), "interval": interval.broker}


def _candle_rows(data: Any) -> list[Any]:
    if isinstance(data, dict):
        rows = data.get("candles")
        return rows if isinstance(rows, list) else []
    return data if isinstance(data, list) else []


@dataclass
class _Fetcher:
    client: "MStockClient"
    record: "SymbolRecord"
    exchange: str
    interval: Interval

    def fetch(self, chunk: Chunk) -> list[candles.Candle]:
        first, last = candles.day_number(chunk.first), candles.day_number(chunk.last)
        if chunk.today:
            data = self.client.call("market.intraday", json=intraday_body(self.record, self.exchange, self.interval))
            rows = _candle_rows(data)
        else:
            try:
                data = self.client.call("market.historical", json=historical_body(self.record, self.interval, chunk))
            except InputRejected as exc:
                if chunk.last > chunk.first and refused_for_size(exc):
                    return self._split(chunk)
                raise
            rows = _candle_rows(data)
            if len(rows) >= HISTORY_BAR_LIMIT and chunk.last > chunk.first:
                return self._split(chunk)
        parsed, _ = candles.parse_candles(rows, daily=self.interval.daily, first_day=first, last_day=last)
        if self.interval.minutes == 60 and HOURLY_LABELS == "end":
            parsed = candles.end_labels_to_start(parsed, opens=session_open(self.exchange), minutes=60)
        return parsed

    def _split(self, chunk: Chunk) -> list[candles.Candle]:
        # At the bar limit: the server may have cut the reply short, so ask for each half.
        middle = chunk.first + (chunk.last - chunk.first) // 2
        log.info("history chunk %s hit the %d-bar limit (or was refused for its size); splitting it",
                 chunk.label(), HISTORY_BAR_LIMIT)
        return self.fetch(Chunk(chunk.first, middle, start=chunk.start)) + self.fetch(
            Chunk(middle + timedelta(days=1), chunk.last, end=chunk.end)
        )


def _fetch_chunk(fetcher: _Fetcher, chunk: Chunk) -> list[candles.Candle]:
    """One chunk, or :class:`HistoryRangeLost` naming it (a dead session is raised as such)."""
    try:
        return fetcher.fetch(chunk)
    except (AuthError, ConfigError):
        raise
    except MStockError as error:
        source = "intraday" if chunk.today else "historical"
        raise HistoryRangeLost(
            f"history of {fetcher.record.symbol} on {fetcher.exchange} ({fetcher.interval.key}): "
            f"{source} data for {chunk.label()} could not be fetched: {error.message}",
            first_day=chunk.first,
            last_day=chunk.last,
            cause=error,
        ) from error


def _run(fetcher: _Fetcher, chunks: list[Chunk], workers: int, progress: Progress | None) -> list[list[candles.Candle]]:
    results: list[list[candles.Candle]] = [[] for _ in chunks]
    total = len(chunks)
    if total and progress is not None:
        progress(0, total)
    if total <= 1 or workers <= 1:
        for index, chunk in enumerate(chunks):
            results[index] = _fetch_chunk(fetcher, chunk)
            if progress is not None:
                progress(index + 1, total)
        return results
    with ThreadPoolExecutor(max_workers=min(workers, total), thread_name_prefix="mstock-history") as pool:
        pending: dict[Future, int] = {pool.submit(_fetch_chunk, fetcher, chunk): i for i, chunk in enumerate(chunks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()  # not started yet: nothing more is sent
                results[index] = future.result()  # raises the chunk's error
                if progress is not None:
                    progress(total - len(pending), total)
    return results


# ------------------------------------------------------------------ entry point


def fetch_history(
    client: "MStockClient",
    record: "SymbolRecord",
    exchange: str,
    interval_key: str,
    start: Any,
    end: Any,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
) -> pd.DataFrame:
    """The history frame of contract 9.5 for one instrument (``exchange`` = OpenAlgo code)."""
    interval = interval_for(interval_key)
    first, last = to_ist_date(start), to_ist_date(end)
    today = today_ist(now)
    if first > last:
        return candles.empty_frame()
    fetch_first = _period_start(first, interval.resample)
    chunks = plan_history(fetch_first, min(last, today - timedelta(days=1)), interval, exchange)
    if fetch_first <= today <= last:
        if exchange in INTRADAY_EXCHANGE_CODE:
            chunks.append(Chunk(today, today, today=True))
        else:
            log.warning("mStock has no intraday exchange code for %s; today's bars are not available", exchange)
    fetcher = _Fetcher(client, record, exchange, interval)
    parts = _run(fetcher, chunks, workers, progress)
    frame = candles.to_frame([bar for part in parts for bar in part])
    return candles.resample(frame, interval.resample) if interval.resample else frame


def get_history(
    client: "MStockClient",
    lookup: "SymbolLookup",
    symbol: str,
    exchange: str,
    interval_key: str,
    start: Any,
    end: Any,
) -> pd.DataFrame:
    """OpenAlgo's ``get_history`` for an OpenAlgo symbol and exchange (unknown symbols raise)."""
    record = require_instrument(symbol, exchange, lookup)
    return fetch_history(client, record, exchange.strip().upper(), interval_key, start, end)


def _period_start(day: date, rule: str | None) -> date:
    """Widen the start so the first weekly/monthly bar is complete."""
    if rule == "W":
        return day - timedelta(days=day.weekday())
    if rule == "M":
        return day.replace(day=1)
    return day
