"""Candle parsing, the history frame and W/M resampling (spec 8.2, 8.3; contract 9.5; D14)."""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from broker.mstock.market import candles
from broker.mstock.market.candles import parse_candles, parse_instant, resample, to_frame

from ..helpers import load_fixture

# 2024-01-01 09:15 IST == 03:45 UTC
NINE_FIFTEEN = int(datetime(2024, 1, 1, 3, 45, tzinfo=timezone.utc).timestamp())
MIDNIGHT_UTC_JAN1 = 1_704_067_200


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01 09:15",
        "2024-01-01T09:15",
        "2024-01-01T09:15:00+05",  # truncated IST offset: must not be read as +05:00
        "2024-01-01T09:15:00+05:30",
        "2024-01-01T09:15:00+0530",
        "2024-01-01T09:15:00.000+05:30",
        "2024-01-01T03:45:00Z",
        "2024-01-01 09:15:00",
        "01-01-2024 09:15",
        NINE_FIFTEEN,
        NINE_FIFTEEN * 1000,
    ],
)
def test_every_timestamp_shape_gives_the_true_instant(text):
    assert parse_instant(text) == NINE_FIFTEEN


def test_other_hour_offsets_are_taken_literally():
    assert parse_instant("2024-01-01T04:45:00+01") == NINE_FIFTEEN


def test_unreadable_timestamp_raises_value_error():
    with pytest.raises(ValueError):
        parse_instant("yesterday")


def test_daily_bars_dated_by_ist_trading_date_at_utc_midnight():
    rows = load_fixture("market.historical", "daily_iso")["data"]["candles"]
    parsed, skipped = parse_candles(rows, daily=True)
    assert skipped == 0
    assert [c[0] for c in parsed] == [MIDNIGHT_UTC_JAN1, MIDNIGHT_UTC_JAN1 + 86_400]
    assert parsed[0] == (MIDNIGHT_UTC_JAN1, 3790.0, 3832.0, 3773.35, 3803.0, 825219, 0)


def test_daily_bar_stamped_at_ist_midnight_keeps_its_date():
    # 2024-01-01 00:00 IST is still 2023-12-31 in UTC; the bar belongs to 1 January.
    parsed, _ = parse_candles([["2024-01-01T00:00:00+05:30", 1, 2, 0.5, 1.5, 10]], daily=True)
    assert parsed[0][0] == MIDNIGHT_UTC_JAN1


def test_intraday_rows_keep_their_instant_and_sort_ascending():
    rows = load_fixture("market.intraday", "three_minute")["data"]["candles"]
    frame = to_frame(parse_candles(rows, daily=False)[0])
    base = int(datetime(2025, 4, 4, 15, 21, tzinfo=candles.IST).timestamp())
    assert frame["timestamp"].tolist() == [base, base + 180, base + 360]
    assert frame["close"].tolist() == [552.2, 553.3, 554.0]


def test_unreadable_rows_are_skipped_not_nan():
    rows = [
        ["2024-01-01 09:15", 1, 2, 0.5, 1.5, 100],
        ["2024-01-01 09:16", None, 2, 0.5, 1.5, 100],
        ["garbage", 1, 2, 0.5, 1.5, 100],
        ["2024-01-01 09:17", "1.1", "2", "0.5", "1.6", None],
        ["2024-01-01 09:18", 1],
        {"timestamp": "2024-01-01 09:19", "open": 1, "high": 2, "low": 0.5, "close": 1.7, "volume": 5},
    ]
    parsed, skipped = parse_candles(rows, daily=False)
    assert skipped == 3
    frame = to_frame(parsed)
    assert frame["close"].tolist() == [1.5, 1.6, 1.7]
    assert frame["volume"].tolist() == [100, 0, 5]
    assert not frame.isna().any().any()


def test_rows_outside_the_requested_days_are_dropped():
    rows = [["2024-01-01 09:15", 1, 2, 0.5, 1.5, 1], ["2024-01-02 09:15", 1, 2, 0.5, 1.5, 1]]
    first = candles.day_number(date(2024, 1, 2))
    parsed, _ = parse_candles(rows, daily=False, first_day=first, last_day=first)
    assert len(parsed) == 1


def test_frame_deduplicates_on_timestamp_keeping_the_later_source():
    frame = to_frame([(60, 1, 1, 1, 1, 1, 0), (0, 2, 2, 2, 2, 2, 0), (60, 3, 3, 3, 3, 3, 0)])
    assert frame.to_dict(orient="records") == [
        {"timestamp": 0, "open": 2.0, "high": 2.0, "low": 2.0, "close": 2.0, "volume": 2, "oi": 0},
        {"timestamp": 60, "open": 3.0, "high": 3.0, "low": 3.0, "close": 3.0, "volume": 3, "oi": 0},
    ]


def test_frame_records_serialise_as_plain_json():
    frame = to_frame([(NINE_FIFTEEN, 1.5, 2, 1, 1.75, 10, 0)])
    assert json.loads(json.dumps(frame.to_dict(orient="records"))) == [
        {"timestamp": NINE_FIFTEEN, "open": 1.5, "high": 2.0, "low": 1.0, "close": 1.75, "volume": 10, "oi": 0}
    ]


def test_empty_frame_has_the_seven_columns():
    frame = to_frame([])
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume", "oi"]
    assert frame.empty


def _daily(day: date, o: float, h: float, l: float, c: float, v: int) -> tuple:
    return (candles.day_number(day) * 86_400, o, h, l, c, v, 0)


def test_weekly_bars_start_monday_and_are_dated_monday():
    days = [date(2024, 1, 2) + timedelta(days=i) for i in range(9)]  # Tue 2 Jan .. Wed 10 Jan
    bars = [_daily(d, 10 + i, 20 + i, 5 + i, 15 + i, 100) for i, d in enumerate(days) if d.weekday() < 5]
    weekly = resample(to_frame(bars), "W").to_dict(orient="records")
    assert weekly == [
        {"timestamp": candles.day_number(date(2024, 1, 1)) * 86_400, "open": 10.0, "high": 23.0, "low": 5.0,
         "close": 18.0, "volume": 400, "oi": 0},
        {"timestamp": candles.day_number(date(2024, 1, 8)) * 86_400, "open": 16.0, "high": 28.0, "low": 11.0,
         "close": 23.0, "volume": 300, "oi": 0},
    ]


def test_monthly_bars_follow_the_calendar():
    bars = [_daily(date(2024, 1, 31), 1, 5, 1, 4, 10), _daily(date(2024, 2, 1), 4, 6, 3, 5, 20),
            _daily(date(2024, 2, 29), 5, 9, 2, 8, 30), _daily(date(2024, 3, 1), 8, 8, 7, 7, 40)]
    monthly = resample(to_frame(bars), "M")
    assert monthly["timestamp"].tolist() == [
        candles.day_number(date(2024, m, 1)) * 86_400 for m in (1, 2, 3)
    ]
    assert monthly[["open", "high", "low", "close", "volume"]].values.tolist() == [
        [1, 5, 1, 4, 10], [4, 9, 2, 8, 50], [8, 8, 7, 7, 40]
    ]


def test_resample_of_nothing_is_empty():
    assert resample(to_frame([]), "W").empty


@pytest.fixture
def foreign_timezone():
    """Run a test with the host in New York, whatever TZ the suite was started with."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_parsing_ignores_the_host_time_zone(foreign_timezone):
    assert parse_instant("2024-01-01 09:15") == NINE_FIFTEEN
    assert parse_instant("2024-01-01T09:15:00+05") == NINE_FIFTEEN
    parsed, _ = parse_candles([["2024-01-01T09:15:00+05", 1, 2, 0.5, 1.5, 1]], daily=True)
    assert parsed[0][0] == MIDNIGHT_UTC_JAN1
    assert pd.Timestamp(MIDNIGHT_UTC_JAN1, unit="s").date() == date(2024, 1, 1)
