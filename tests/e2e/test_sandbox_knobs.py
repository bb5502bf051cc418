"""Each open assumption of the plugin is a sandbox knob; with it changed, the sandbox
behaves that way (and with the default, as the plugin assumes)."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

import pytest

from mstock_sandbox import SandboxConfig
from mstock_sandbox.config import CONFIRMED_INDEX_SPOTS, EXTENDED_INDEX_SPOTS

from .sandbox_support import FeedListener, raw_call, running_sandbox

pytestmark = pytest.mark.e2e

IST = timezone(timedelta(hours=5, minutes=30))
NOW = datetime(2025, 2, 7, 11, 0, 0)  # a Friday, naive = IST
PAST_DAY = "2025-02-05"  # a Wednesday before it


def fixed_clock():
    return NOW


def quote(server, token, mode, tokens):
    return raw_call(server, token, "POST", "/instruments/quote", {"mode": mode, "exchangeTokens": {"NSE": tokens}})


def historical(server, token, interval, start, end):
    body = {"exchange": "NSE", "symboltoken": "3045", "interval": interval, "fromdate": start, "todate": end}
    return raw_call(server, token, "POST", "/instruments/historical", body)


def test_defaults_are_what_the_plugin_assumes():
    config = SandboxConfig()
    assert (config.quote_token_cap, config.quote_full, config.history_bar_limit, config.history_over_limit) == (
        500, "smartapi", 1000, "truncate")
    assert (config.hourly_labels, config.feed_framing, config.currency_divisor, config.feed_epoch) == (
        "start", "header", 100, "ist")
    assert (config.depth_side_flag, config.depth_order, config.ordertag_echo, config.rate_limit_shape) == (
        (1, 0), "bids-first", True, "http-429")
    assert (config.order_frame_shape, config.feed_max_sockets, config.strict_rate_limits) == ("current", None, False)
    assert (config.arrival_jitter_ms, config.idle_timeout, config.connect_latency_ms) == (0.0, None, 0.0)
    assert dict(config.index_spots) == dict(CONFIRMED_INDEX_SPOTS) and len(config.index_spots) == 6


@pytest.mark.parametrize("knobs, problem", [
    ({"quote_full": "fancy"}, "quote_full must be one of smartapi, no-depth, ohlc, refuse"),
    ({"feed_framing": "json"}, "feed_framing must be one of header, bare, big-endian"),
    ({"feed_max_sockets": 0}, "feed_max_sockets must be at least 1"),
    ({"depth_side_flag": (1, 1)}, "two different numbers"),
    ({"currency_divisor": 0}, "currency_divisor must be at least 1"),
])
def test_bad_knob_values_are_refused_with_a_reason(knobs, problem):
    with pytest.raises(ValueError, match=problem):
        SandboxConfig(**knobs)


# ------------------------------------------------------------------ quotes


def test_quote_cap():
    with running_sandbox(quote_token_cap=2) as server:
        token = server.issue_session().access_token
        ok = quote(server, token, "LTP", ["3045", "2885"])
        over = quote(server, token, "LTP", ["3045", "2885", "22"])
    assert (ok.status_code, len(ok.json()["data"]["fetched"])) == (200, 2)
    assert over.status_code == 400
    assert over.json() == {"status": "false", "message": "Maximum 2 tokens are allowed per request.",
                           "errorcode": "IA400", "data": None}


@pytest.mark.parametrize("layout, status, keys", [
    ("smartapi", 200, {"depth", "tradeVolume", "opnInterest", "open", "close"}),
    ("no-depth", 200, {"tradeVolume", "opnInterest", "open", "close"}),
    ("ohlc", 200, {"exchange", "tradingSymbol", "symbolToken", "ltp", "open", "high", "low", "close"}),
    ("refuse", 400, None),
])
def test_quote_full_layouts(layout, status, keys):
    with running_sandbox(quote_full=layout) as server:
        token = server.issue_session().access_token
        full = quote(server, token, "FULL", ["3045"])
        ohlc = quote(server, token, "OHLC", ["3045"])
    assert (full.status_code, ohlc.status_code) == (status, 200)
    if keys is None:
        assert full.json()["message"] == "Invalid mode FULL. Valid modes are LTP and OHLC."
        return
    row = full.json()["data"]["fetched"][0]
    assert keys <= set(row)
    if layout == "no-depth":
        assert "depth" not in row
    if layout == "ohlc":
        assert set(row) == keys == set(ohlc.json()["data"]["fetched"][0])
    if layout == "smartapi":
        assert len(row["depth"]["buy"]) == 5


@pytest.mark.parametrize("index_set, fetched", [("confirmed", False), ("extended", True)])
def test_index_tokens_beyond_the_six(index_set, fetched):
    spots = CONFIRMED_INDEX_SPOTS if index_set == "confirmed" else EXTENDED_INDEX_SPOTS
    with running_sandbox(index_spots=spots) as server:
        token = server.issue_session().access_token
        data = quote(server, token, "LTP", ["26000", "26008"]).json()["data"]
    names = [r["tradingSymbol"] for r in data["fetched"]]
    assert names == (["NIFTY 50", "NIFTY IT"] if fetched else ["NIFTY 50"])
    assert [u["symbolToken"] for u in data["unfetched"]] == ([] if fetched else ["26008"])


# ------------------------------------------------------------------ history


def test_history_bar_limit_truncates_or_refuses():
    with running_sandbox(history_bar_limit=50, clock=fixed_clock) as server:
        token = server.issue_session().access_token
        truncated = historical(server, token, "ONE_MINUTE", f"{PAST_DAY} 09:15", f"{PAST_DAY} 15:30").json()
        within = historical(server, token, "ONE_HOUR", f"{PAST_DAY} 09:15", f"{PAST_DAY} 15:30").json()
    assert (len(truncated["data"]["candles"]), truncated["message"]) == (
        50, "success: only the first 50 candles of the range are returned")
    assert truncated["data"]["candles"][0][0] == f"{PAST_DAY} 09:15"
    assert (len(within["data"]["candles"]), within["message"]) == (7, "success")
    with running_sandbox(history_bar_limit=50, history_over_limit="refuse", clock=fixed_clock) as server:
        refused = historical(server, server.issue_session().access_token, "ONE_MINUTE", PAST_DAY, PAST_DAY)
    assert refused.status_code == 400
    assert refused.json()["message"] == "Maximum 50 candles are allowed per request. Please reduce the date range."


@pytest.mark.parametrize("labels, expected", [
    ("start", ["09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"]),
    ("end", ["10:15", "11:15", "12:15", "13:15", "14:15", "15:15", "15:30"]),
])
def test_hourly_labels(labels, expected):
    with running_sandbox(hourly_labels=labels, clock=fixed_clock) as server:
        token = server.issue_session().access_token
        hourly = historical(server, token, "ONE_HOUR", PAST_DAY, PAST_DAY).json()["data"]["candles"]
        minutes = historical(server, token, "ONE_MINUTE", PAST_DAY, PAST_DAY).json()["data"]["candles"]
    assert [c[0][11:] for c in hourly] == expected
    # Same bars either way: the first opens with 09:15's minute and closes with 10:14's.
    assert (hourly[0][1], hourly[0][4]) == (minutes[0][1], minutes[59][4])
    assert hourly[-1][4] == minutes[-1][4]


@pytest.mark.parametrize("labels, expected", [("start", ["10:15", "09:15"]), ("end", ["11:15", "10:15"])])
def test_hourly_labels_of_todays_candles(labels, expected):
    with running_sandbox(hourly_labels=labels, clock=fixed_clock, always_open=False) as server:
        body = {"exchange": "1", "symboltoken": "3045", "interval": "ONE_HOUR"}
        reply = raw_call(server, server.issue_session().access_token, "POST", "/instruments/intraday", body).json()
    # 11:00 IST: one whole hour and the one in progress, newest first
    assert [c[0] for c in reply["data"]["candles"]] == [f"2025-02-07 {hhmm}" for hhmm in expected]


# ------------------------------------------------------------------ feed


def _ltp_frames(framing: str) -> list[bytes]:
    with running_sandbox(feed_framing=framing) as server:
        feed = FeedListener(server, server.issue_session().access_token)
        try:
            feed.subscribe(1, 1, ["3045", "2885"])
            return feed.wait_binaries(2 if framing == "bare" else 1)
        finally:
            feed.close()


def test_feed_framing_header():
    (frame,) = _ltp_frames("header")
    assert struct.unpack_from("<HH", frame) == (2, 51) and len(frame) == 4 + 2 * 51
    assert frame[4:6] == b"\x01\x01" and frame[6:10] == b"3045"


def test_feed_framing_bare():
    frames = _ltp_frames("bare")
    assert [len(f) for f in frames] == [51, 51]
    assert [f[2:6].rstrip(b"\0") for f in frames] == [b"3045", b"2885"]


def test_feed_framing_big_endian():
    (frame,) = _ltp_frames("big-endian")
    assert len(frame) == 2 + 2 * (2 + 51)
    assert frame[:2] == b"\x00\x02" and frame[2:4] == b"\x00\x33" and frame[55:57] == b"\x00\x33"
    first, second = frame[4:55], frame[57:108]
    assert (first[:2], first[2:6], second[2:6]) == (b"\x01\x01", b"3045", b"2885")  # packets stay little-endian


def _snap_packet(server, exchange_type: int, token: str, mode: int = 3) -> bytes:
    feed = FeedListener(server, server.issue_session().access_token)
    try:
        feed.subscribe(mode, exchange_type, [token])
        frame = feed.wait_binaries(1)[0]
    finally:
        feed.close()
    count, size = struct.unpack_from("<HH", frame)
    assert count == 1
    return frame[4 : 4 + size]


def _currency_token(server) -> str:
    return next(r["token"] for r in server.state.rows if r["instrumenttype"] == "FUTCUR" and r["exch_seg"] == "NSE")


@pytest.mark.parametrize("divisor", [100, 10_000_000])
def test_currency_divisor(divisor):
    with running_sandbox(currency_divisor=divisor) as server:
        currency = _currency_token(server)
        rupees = server.state.market.set_ltp(currency, 88.1275, "NSE").ltp
        packet = _snap_packet(server, 13, currency, mode=1)
        equity = _snap_packet(server, 1, "3045", mode=1)
        sbin = server.state.ltp("3045", "NSE")
    assert struct.unpack_from("<q", packet, 43)[0] == round(rupees * divisor)
    assert struct.unpack_from("<q", equity, 43)[0] == round(sbin * 100)  # other segments keep 100


@pytest.mark.parametrize("epoch, base", [
    ("ist", datetime(1980, 1, 1, tzinfo=IST)), ("utc", datetime(1980, 1, 1, tzinfo=timezone.utc)),
])
def test_feed_epoch(epoch, base):
    with running_sandbox(feed_epoch=epoch, clock=fixed_clock) as server:
        server.state.market.set_ltp("3045", 800.0, "NSE")
        packet = _snap_packet(server, 1, "3045", mode=1)
    assert struct.unpack_from("<q", packet, 35)[0] == int((NOW.replace(tzinfo=IST) - base).total_seconds())


def _depth(packet: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("<hqqh", packet, 147 + 20 * i) for i in range(10)]


@pytest.mark.parametrize("flags, order", [((1, 0), "bids-first"), ((66, 83), "bids-first"), ((0, 1), "asks-first")])
def test_depth_side_flags_and_order(flags, order):
    with running_sandbox(depth_side_flag=flags, depth_order=order) as server:
        packet = _snap_packet(server, 1, "3045")
        snap = server.feed.last_published("3045", 1).snapshot
    levels = _depth(packet)
    bids = [(flags[0], q, round(p * 100), n) for p, q, n in snap.bids]
    asks = [(flags[1], q, round(p * 100), n) for p, q, n in snap.asks]
    assert levels == (bids + asks if order == "bids-first" else asks + bids)


# ------------------------------------------------------------------ rate-limit answer


@pytest.mark.parametrize("shape, status", [("http-429", 429), ("http-200", 200)])
def test_rate_limit_shape(shape, status):
    with running_sandbox(enforce_rate_limits=True, rate_limit_shape=shape, clock=fixed_clock) as server:
        server.state.rate_limits.clock = lambda: 100.0  # both calls arrive in the same instant
        token = server.issue_session().access_token
        first = historical(server, token, "ONE_DAY", PAST_DAY, PAST_DAY)
        second = historical(server, token, "ONE_DAY", PAST_DAY, PAST_DAY)  # data API: 1 per second
    assert first.status_code == 200
    assert second.status_code == status
    assert second.json() == {"status": "false", "message": "Rate limit exceeded", "errorcode": "IA429", "data": None}
