"""History fetching (spec 8.2, 8.3; contract 9.5; D13, D14): chunks, today, failures, time zones."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from broker.mstock import errors, host
from broker.mstock.api.data import BrokerData
from broker.mstock.market import candles, history
from broker.mstock.market.history import Chunk, HistoryRangeLost, fetch_history, plan_chunks, plan_history
from broker.mstock.market.intervals import interval_for
from broker.mstock.transport.client import MStockClient

from ..helpers import ACCESS_TOKEN, API_KEY, BASE_URL, add_route, load_fixture, sent_json, url_for
from .market_support import FakeSymbols, record

MINUTES = {"ONE_MINUTE": 1, "THREE_MINUTE": 3, "FIVE_MINUTE": 5, "TEN_MINUTE": 10, "FIFTEEN_MINUTE": 15,
           "THIRTY_MINUTE": 30, "ONE_HOUR": 60}


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


class CandleServer:
    """Answers like mStock (and the sandbox): weekday sessions 09:15-15:30 IST, completed
    sessions only from ``historical``, today's bars newest first from ``intraday``, and at
    most ``limit`` bars per reply (the oldest ones)."""

    def __init__(self, today: date, *, limit: int = 1000, specials: tuple[date, ...] = (), fail: dict | None = None):
        self.today = today
        self.limit = limit
        self.specials = set(specials)
        self.fail = fail or {}
        self.bodies: list[dict] = []

    def _sessions(self, first: datetime, last: datetime) -> list[date]:
        day, out = first.date(), []
        while day <= last.date():
            if day.weekday() < 5 or day in self.specials:
                out.append(day)
            day += timedelta(days=1)
        return out

    def _bars(self, day: date, interval: str, start: datetime, end: datetime) -> list[list]:
        if interval == "ONE_DAY":
            return [[f"{day.isoformat()}T00:00:00+05:30", 100, 110, 90, 105, 1000 + day.day]]
        step, out, at = MINUTES[interval], [], _at(day, 9, 15)
        while at < _at(day, 15, 30):
            if start <= at <= end:
                out.append([at.strftime("%Y-%m-%d %H:%M"), 100.0, 101.0, 99.0, 100.5, at.minute + 1])
            at += timedelta(minutes=step)
        return out

    def historical(self, request):
        body = json.loads(request.body)
        self.bodies.append(body)
        start = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M")
        end = datetime.strptime(body["todate"], "%Y-%m-%d %H:%M")
        failure = self.fail.get(start.date())
        if failure is not None:
            return failure
        rows = [bar for day in self._sessions(start, end) if day < self.today for bar in self._bars(day, body["interval"], start, end)]
        return 200, {}, json.dumps({"status": "true", "message": "success", "errorcode": "", "data": {"candles": rows[: self.limit]}})

    def intraday(self, request):
        body = json.loads(request.body)
        self.bodies.append(body)
        if "intraday" in self.fail:
            return self.fail["intraday"]
        rows = self._bars(self.today, body["interval"], _at(self.today, 0, 0), _at(self.today, 23, 59))
        return 200, {}, json.dumps({"status": True, "message": "SUCCESS", "errorcode": "", "data": {"candles": rows[::-1]}})

    def install(self, mock):
        mock.add_callback("POST", url_for("market.historical"), callback=self.historical)
        mock.add_callback("POST", url_for("market.intraday"), callback=self.intraday)


def _client() -> MStockClient:
    return MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=BASE_URL, sleep=lambda s: None)


def _now(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=candles.IST)


def _ist_dates(frame: pd.DataFrame) -> Counter:
    return Counter(datetime.fromtimestamp(int(ts), candles.IST).date() for ts in frame["timestamp"])


# ------------------------------------------------------------------ chunk planning


def test_chunks_cover_every_day_once_and_hold_at_most_n_weekdays():
    first, last = date(2024, 1, 1), date(2024, 3, 31)
    chunks = plan_chunks(first, last, 2)
    covered = [c.first + timedelta(days=i) for c in chunks for i in range((c.last - c.first).days + 1)]
    assert covered == [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert all(sum(1 for d in range((c.last - c.first).days + 1) if (c.first + timedelta(days=d)).weekday() < 5) <= 2 for c in chunks)
    assert chunks[:3] == [Chunk(date(2024, 1, 1), date(2024, 1, 2)), Chunk(date(2024, 1, 3), date(2024, 1, 4)),
                          Chunk(date(2024, 1, 5), date(2024, 1, 8))]


def test_a_weekend_alone_is_still_asked_once():
    assert plan_chunks(date(2024, 1, 6), date(2024, 1, 7), 2) == [Chunk(date(2024, 1, 6), date(2024, 1, 7))]


def test_a_year_of_one_minute_bars_takes_the_minimum_the_bar_limit_allows():
    # 2024: 262 weekdays x 375 one-minute bars = 98,250 bars; ceil(98,250 / 999) = 99.
    chunks = plan_history(date(2024, 1, 1), date(2024, 12, 31), interval_for("1m"), "NSE")
    assert len(chunks) == 99
    assert len(plan_chunks(date(2024, 1, 1), date(2024, 12, 31), 2)) == 131  # whole-day chunks would need


@pytest.mark.parametrize(("key", "exchange"), [("1m", "NSE"), ("3m", "NFO"), ("5m", "CDS"), ("15m", "MCX"), ("30m", "BSE")])
def test_bar_chunks_cover_every_minute_once_within_the_limit(key, exchange):
    interval = interval_for(key)
    first, last = date(2024, 3, 1), date(2024, 5, 31)
    chunks = plan_history(first, last, interval, exchange)
    bars_per_day = history.bars_per_session(interval, exchange)
    opens = history.session_open(exchange)
    seen = Counter()
    for chunk in chunks:
        start = datetime.combine(chunk.first, chunk.start)
        end = datetime.combine(chunk.last, chunk.end)
        in_chunk = 0
        day = chunk.first
        while day <= chunk.last:
            if day.weekday() < 5:
                for n in range(bars_per_day):
                    at = datetime.combine(day, opens) + timedelta(minutes=n * interval.minutes)
                    if start <= at <= end:
                        seen[at] += 1
                        in_chunk += 1
            day += timedelta(days=1)
        assert in_chunk <= 999
    weekdays = sum(1 for d in range((last - first).days + 1) if (first + timedelta(days=d)).weekday() < 5)
    assert len(seen) == weekdays * bars_per_day
    assert set(seen.values()) == {1}
    assert chunks[0].first == first and chunks[-1].last == last


# ------------------------------------------------------------------ fetching


def test_a_month_of_one_minute_bars_has_every_trading_day_exactly_once(mock_api):
    server = CandleServer(today=date(2024, 2, 15))
    server.install(mock_api)
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "1m", "2024-01-01", "2024-01-31", now=_now(date(2024, 2, 15)))
    days = _ist_dates(frame)
    weekdays = [date(2024, 1, d) for d in range(1, 32) if date(2024, 1, d).weekday() < 5]
    assert sorted(days) == weekdays
    assert set(days.values()) == {375}
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    # 23 sessions x 375 bars = 8,625 bars in chunks of 999: the minimum of 9 calls.
    assert len(server.bodies) == 9
    bodies = sorted(server.bodies, key=lambda b: b["fromdate"])  # two workers: arrival order varies
    assert [(b["fromdate"], b["todate"]) for b in bodies[:3]] == [
        ("2024-01-01 00:00", "2024-01-03 13:23"),
        ("2024-01-03 13:24", "2024-01-08 11:17"),
        ("2024-01-08 11:18", "2024-01-10 15:26"),
    ]
    # Consecutive chunks touch: each starts one minute after the previous one ends.
    for before, after in zip(bodies, bodies[1:]):
        end = datetime.strptime(before["todate"], "%Y-%m-%d %H:%M")
        assert datetime.strptime(after["fromdate"], "%Y-%m-%d %H:%M") == end + timedelta(minutes=1)


def test_request_golden_and_saturday_session_bars(mock_api):
    add_route(mock_api, "market.historical", case="one_hour")
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "1h", date(2025, 2, 1), date(2025, 2, 3), now=_now(date(2025, 2, 10)))
    assert sent_json(mock_api.calls[0]) == load_fixture("market.historical", "request_one_hour")
    first = int(datetime(2025, 2, 1, 9, 45, tzinfo=candles.IST).timestamp())
    assert frame["timestamp"].iloc[0] == first
    assert _ist_dates(frame) == {date(2025, 2, 1): 7, date(2025, 2, 3): 1}


def test_index_history_uses_brexchange_and_daily_dates(mock_api):
    add_route(mock_api, "market.historical", case="daily_iso")
    frame = fetch_history(_client(), record("NIFTY", "NSE_INDEX"), "NSE_INDEX", "D", "2024-01-01", "2024-01-02", now=_now(date(2024, 3, 1)))
    assert sent_json(mock_api.calls[0]) == {"exchange": "NSE", "symboltoken": "26000", "interval": "ONE_DAY",
                                            "fromdate": "2024-01-01 00:00", "todate": "2024-01-02 23:59"}
    assert frame["timestamp"].tolist() == [1_704_067_200, 1_704_153_600]


def test_today_comes_from_intraday_with_the_numeric_exchange_code(mock_api):
    today = date(2025, 4, 4)
    server = CandleServer(today=today)
    server.install(mock_api)
    frame = fetch_history(_client(), record("NIFTY30JAN2524000CE", "NFO"), "NFO", "3m", "2025-04-03", "2025-04-04", now=_now(today))
    assert server.bodies[0]["todate"] == "2025-04-03 23:59"
    intraday = [b for b in server.bodies if "fromdate" not in b]
    assert intraday == [load_fixture("market.intraday", "request_nfo")]
    assert _ist_dates(frame) == {date(2025, 4, 3): 125, date(2025, 4, 4): 125}
    assert frame["timestamp"].is_monotonic_increasing


def test_range_of_only_today_makes_one_intraday_call(mock_api):
    add_route(mock_api, "market.intraday", case="three_minute")
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "3m", "2025-04-04", "2025-04-04", now=_now(date(2025, 4, 4)))
    assert len(mock_api.calls) == 1
    assert sent_json(mock_api.calls[0]) == {"exchange": "1", "symboltoken": "3045", "interval": "THREE_MINUTE"}
    assert frame["close"].tolist() == [552.2, 553.3, 554.0]


def test_today_is_decided_in_ist_not_by_the_host(mock_api):
    # 20:00 UTC on Thursday 3 April is already Friday 4 April in India.
    now = datetime(2025, 4, 3, 20, 0, tzinfo=timezone.utc)
    assert history.today_ist(now) == date(2025, 4, 4)
    add_route(mock_api, "market.historical", case="empty")
    add_route(mock_api, "market.intraday", case="three_minute")
    fetch_history(_client(), record("SBIN", "NSE"), "NSE", "3m", "2025-04-03", "2025-04-04", now=now)
    assert [c.request.url.rsplit("/", 1)[-1] for c in mock_api.calls] == ["historical", "intraday"]


def test_truncated_chunk_is_split_and_refetched(mock_api):
    # A Saturday special session makes Fri+Sat+Mon 1125 bars: over the 1000-bar cap.
    server = CandleServer(today=date(2024, 2, 1), specials=(date(2024, 1, 20),))
    server.install(mock_api)
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "1m", "2024-01-19", "2024-01-22", now=_now(date(2024, 2, 1)))
    assert _ist_dates(frame) == {date(2024, 1, 19): 375, date(2024, 1, 20): 375, date(2024, 1, 22): 375}
    assert frame["timestamp"].is_unique


def test_weekly_history_starts_on_monday(mock_api):
    server = CandleServer(today=date(2024, 2, 1))
    server.install(mock_api)
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "W", "2024-01-03", "2024-01-12", now=_now(date(2024, 2, 1)))
    assert server.bodies[0]["fromdate"] == "2024-01-01 00:00"
    assert frame["timestamp"].tolist() == [candles.day_number(date(2024, 1, d)) * 86_400 for d in (1, 8)]
    assert frame["volume"].tolist() == [1001 + 1002 + 1003 + 1004 + 1005, 1008 + 1009 + 1010 + 1011 + 1012]


def test_monthly_history_starts_on_the_first(mock_api):
    server = CandleServer(today=date(2024, 4, 1))
    server.install(mock_api)
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "M", "2024-01-15", "2024-03-10", now=_now(date(2024, 4, 1)))
    assert server.bodies[0]["fromdate"] == "2024-01-01 00:00"
    assert frame["timestamp"].tolist() == [candles.day_number(date(2024, m, 1)) * 86_400 for m in (1, 2, 3)]


def test_failed_chunk_raises_naming_the_lost_range(mock_api):
    rejected = (200, {}, json.dumps(load_fixture("market.historical", "invalid_token")))
    server = CandleServer(today=date(2024, 2, 1), fail={date(2024, 1, 3): rejected})
    server.install(mock_api)
    with pytest.raises(HistoryRangeLost) as info:
        fetch_history(_client(), record("SBIN", "NSE"), "NSE", "1m", "2024-01-01", "2024-01-10", now=_now(date(2024, 2, 1)), workers=1)
    assert str(info.value) == (
        "history of SBIN on NSE (1m): historical data for 2024-01-03 13:24..2024-01-08 11:17 could not be fetched: "
        "Invalid symboltoken. [IA400]"
    )
    assert (info.value.first_day, info.value.last_day) == (date(2024, 1, 3), date(2024, 1, 8))
    assert isinstance(info.value.cause, errors.InputRejected)


def test_transient_chunk_failure_is_retried_then_reported(mock_api):
    gateway = (502, {"Content-Type": "text/html"}, "<html><title>502 Bad Gateway</title></html>")
    server = CandleServer(today=date(2024, 2, 1), fail={date(2024, 1, 1): gateway})
    server.install(mock_api)
    with pytest.raises(HistoryRangeLost, match="2024-01-01..2024-01-02"):
        fetch_history(_client(), record("SBIN", "NSE"), "NSE", "1m", "2024-01-01", "2024-01-02", now=_now(date(2024, 2, 1)))
    assert len(server.bodies) == 3  # the client's three attempts


def test_failed_intraday_names_today(mock_api):
    server = CandleServer(today=date(2024, 2, 1), fail={"intraday": (500, {}, json.dumps({"status": False, "message": "down", "errorcode": "IA500"}))})
    server.install(mock_api)
    with pytest.raises(HistoryRangeLost, match="intraday data for 2024-02-01"):
        fetch_history(_client(), record("SBIN", "NSE"), "NSE", "5m", "2024-01-31", "2024-02-01", now=_now(date(2024, 2, 1)))


def test_expired_session_is_raised_as_such(mock_api):
    add_route(mock_api, "market.intraday", case="expired", status=401)
    with pytest.raises(errors.SessionExpired):
        fetch_history(_client(), record("SBIN", "NSE"), "NSE", "5m", "2024-02-01", "2024-02-01", now=_now(date(2024, 2, 1)))


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-01-10", "2024-01-09"), ("2030-01-01", "2030-01-05")],
)
def test_empty_ranges_make_no_calls(mock_api, start, end):
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "D", start, end, now=_now(date(2024, 2, 1)))
    assert frame.empty and list(frame.columns) == list(candles.HISTORY_COLUMNS)
    assert len(mock_api.calls) == 0


def test_no_candles_gives_the_empty_frame(mock_api):
    add_route(mock_api, "market.historical", case="empty")
    frame = fetch_history(_client(), record("SBIN", "NSE"), "NSE", "D", "2024-01-01", "2024-01-05", now=_now(date(2024, 2, 1)))
    assert frame.empty and list(frame.columns) == list(candles.HISTORY_COLUMNS)


def test_bcd_today_has_no_intraday_code_and_is_skipped(mock_api):
    add_route(mock_api, "market.historical", case="empty")
    fetch_history(_client(), record("USDINR29JAN25FUT", "BCD"), "BCD", "D", "2024-01-31", "2024-02-01", now=_now(date(2024, 2, 1)))
    assert [c.request.url.rsplit("/", 1)[-1] for c in mock_api.calls] == ["historical"]


def test_progress_reports_each_chunk(mock_api):
    CandleServer(today=date(2024, 2, 1)).install(mock_api)
    seen: list[tuple[int, int]] = []
    fetch_history(_client(), record("SBIN", "NSE"), "NSE", "1m", "2024-01-01", "2024-01-10",
                  now=_now(date(2024, 2, 1)), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 4) for i in range(5)]


def test_unsupported_interval_raises():
    with pytest.raises(errors.ValidationError, match="interval '2m' is not supported"):
        fetch_history(_client(), record("SBIN", "NSE"), "NSE", "2m", "2024-01-01", "2024-01-02")


@pytest.mark.parametrize(
    "value",
    [date(2024, 1, 5), datetime(2024, 1, 5, 15, 0), "2024-01-05", "2024-01-05 10:00:00", pd.Timestamp("2024-01-05"),
     datetime(2024, 1, 4, 20, 0, tzinfo=timezone.utc)],
)
def test_dates_in_every_form_mean_the_ist_calendar_date(value):
    assert history.to_ist_date(value) == date(2024, 1, 5)


@pytest.mark.parametrize("value", ["not a date", "2024-13-01", None, pd.NaT, 20240105, 3.5])
def test_bad_date_raises_validation_error(value):
    with pytest.raises(errors.ValidationError):
        history.to_ist_date(value)


def test_result_is_the_same_in_another_host_time_zone(mock_api):
    server = CandleServer(today=date(2024, 1, 10))
    server.install(mock_api)
    args = (record("SBIN", "NSE"), "NSE", "30m", "2024-01-08", "2024-01-10")
    expected = fetch_history(_client(), *args, now=_now(date(2024, 1, 10))).to_dict(orient="records")
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        again = fetch_history(_client(), *args, now=_now(date(2024, 1, 10))).to_dict(orient="records")
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()
    assert again == expected
    assert expected[0]["timestamp"] == int(datetime(2024, 1, 8, 9, 15, tzinfo=candles.IST).timestamp())


def test_broker_data_get_history_end_to_end_with_mocked_http(mock_api, monkeypatch):
    monkeypatch.setattr(host, "symbols", lambda: FakeSymbols())
    monkeypatch.setattr(history, "today_ist", lambda now=None: date(2024, 2, 1))
    CandleServer(today=date(2024, 2, 1)).install(mock_api)
    frame = BrokerData(ACCESS_TOKEN).get_history("SBIN", "NSE", "15m", date(2024, 1, 29), "2024-02-01")
    assert sorted(_ist_dates(frame).items()) == [(date(2024, 1, d), 25) for d in (29, 30, 31)] + [(date(2024, 2, 1), 25)]
    assert json.loads(json.dumps(frame.to_dict(orient="records")))[0]["timestamp"] == int(
        datetime(2024, 1, 29, 9, 15, tzinfo=candles.IST).timestamp()
    )
