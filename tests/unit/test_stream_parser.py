"""Binary tick frames (spec 11.3): goldens built field by field at the documented offsets."""

from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta, timezone

import pytest

from broker.mstock.streaming.parser import EPOCH_1980_UTC, FeedParser, MalformedFrame

IST = timezone(timedelta(hours=5, minutes=30))
EXCH_TIME = datetime(2026, 9, 1, 10, 15, 30, tzinfo=IST)
LTT = datetime(2026, 9, 1, 10, 15, 28, tzinfo=IST)


def secs_1980_ist(moment: datetime) -> int:
    return int((moment - datetime(1980, 1, 1, tzinfo=IST)).total_seconds())


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


BIDS = [(100, 81230, 3), (250, 81225, 5), (75, 81220, 1), (10, 81215, 1), (500, 81210, 9)]  # qty, paise, orders
ASKS = [(60, 81240, 2), (40, 81245, 1), (300, 81250, 4), (20, 81255, 1), (1000, 81260, 12)]


def packet(mode: int, token: str = "3045", exch: int = 1, *, seq: int = 7, ltp: int = 81235, ts: int | None = None,
           tbq: float = 150000.0, tsq: float = 175000.0, oi_chg: float = -2.75, bids=BIDS, asks=ASKS,
           token_raw: bytes | None = None) -> bytes:
    """One packet exactly as the spec 11.3 table lays it out (offset, size, type)."""
    size = {1: 51, 2: 123, 3: 379}[mode]
    buf = bytearray(size)
    struct.pack_into("<B", buf, 0, mode)
    struct.pack_into("<B", buf, 1, exch)
    buf[2:27] = token_raw if token_raw is not None else token.encode().ljust(25, b"\0")
    struct.pack_into("<q", buf, 27, seq)
    struct.pack_into("<q", buf, 35, secs_1980_ist(EXCH_TIME) if ts is None else ts)
    struct.pack_into("<q", buf, 43, ltp)
    if mode >= 2:
        struct.pack_into("<q", buf, 51, 15)  # last traded qty
        struct.pack_into("<q", buf, 59, 81045)  # average traded price
        struct.pack_into("<q", buf, 67, 1234567)  # volume
        struct.pack_into("<d", buf, 75, tbq)
        struct.pack_into("<d", buf, 83, tsq)
        struct.pack_into("<q", buf, 91, 80000)  # open
        struct.pack_into("<q", buf, 99, 82050)  # high
        struct.pack_into("<q", buf, 107, 79525)  # low
        struct.pack_into("<q", buf, 115, 80500)  # close (previous)
    if mode == 3:
        struct.pack_into("<q", buf, 123, secs_1980_ist(LTT))
        struct.pack_into("<q", buf, 131, 1250000)  # open interest
        struct.pack_into("<d", buf, 139, oi_chg)
        for i, (qty, price, orders) in enumerate(list(bids) + list(asks)):
            base = 147 + 20 * i
            struct.pack_into("<h", buf, base, 1 if i < 5 else 0)
            struct.pack_into("<q", buf, base + 2, qty)
            struct.pack_into("<q", buf, base + 10, price)
            struct.pack_into("<h", buf, base + 18, orders)
        struct.pack_into("<q", buf, 347, 88550)  # upper circuit
        struct.pack_into("<q", buf, 355, 72450)  # lower circuit
        struct.pack_into("<q", buf, 363, 91200)  # 52-week high
        struct.pack_into("<q", buf, 371, 60010)  # 52-week low
    return bytes(buf)


def framed(*packets: bytes) -> bytes:
    return struct.pack("<HH", len(packets), len(packets[0])) + b"".join(packets)


LTP_EXPECTED = {
    "mode": 1, "exchange_type": 1, "token": "3045", "sequence": 7, "exchange_ts": ms(EXCH_TIME), "ltp": 812.35,
}
QUOTE_EXPECTED = {
    **LTP_EXPECTED, "mode": 2, "last_qty": 15, "avg_price": 810.45, "volume": 1234567, "total_buy_qty": 150000,
    "total_sell_qty": 175000, "open": 800.0, "high": 820.5, "low": 795.25, "close": 805.0,
}
SNAP_EXPECTED = {
    **QUOTE_EXPECTED, "mode": 3, "last_trade_ts": ms(LTT), "oi": 1250000, "oi_change_pct": -2.75,
    "bids": [
        {"price": 812.3, "quantity": 100, "orders": 3}, {"price": 812.25, "quantity": 250, "orders": 5},
        {"price": 812.2, "quantity": 75, "orders": 1}, {"price": 812.15, "quantity": 10, "orders": 1},
        {"price": 812.1, "quantity": 500, "orders": 9},
    ],
    "asks": [
        {"price": 812.4, "quantity": 60, "orders": 2}, {"price": 812.45, "quantity": 40, "orders": 1},
        {"price": 812.5, "quantity": 300, "orders": 4}, {"price": 812.55, "quantity": 20, "orders": 1},
        {"price": 812.6, "quantity": 1000, "orders": 12},
    ],
    "upper_circuit": 885.5, "lower_circuit": 724.5, "high_52w": 912.0, "low_52w": 600.1,
}


@pytest.mark.parametrize(
    ("mode", "expected"), [(1, LTP_EXPECTED), (2, QUOTE_EXPECTED), (3, SNAP_EXPECTED)], ids=["ltp", "quote", "snap"]
)
def test_bare_packet_of_each_mode(mode, expected):
    parser = FeedParser()
    assert parser.feed(packet(mode)) == [expected]
    assert (parser.stats.packets, parser.stats.malformed) == (1, 0)


@pytest.mark.parametrize(
    ("mode", "expected", "size"), [(1, LTP_EXPECTED, 55), (2, QUOTE_EXPECTED, 127), (3, SNAP_EXPECTED, 383)]
)
def test_header_prefixed_single_packet(mode, expected, size):
    frame = framed(packet(mode))
    assert len(frame) == size  # the sizes D9 dropped for LTP and Quote
    assert FeedParser().feed(frame) == [expected]


def test_header_prefixed_batch_delivers_every_packet():
    frame = framed(packet(2, "3045", seq=1), packet(2, "2885", seq=2, ltp=289010), packet(2, "11536", seq=3))
    ticks = FeedParser().feed(frame)
    assert [(t["token"], t["sequence"], t["ltp"]) for t in ticks] == [("3045", 1, 812.35), ("2885", 2, 2890.1), ("11536", 3, 812.35)]


def test_several_header_groups_in_one_frame():
    frame = framed(packet(1, "26000"), packet(1, "26009")) + framed(packet(3, "3045"))
    ticks = FeedParser().feed(frame)
    assert [(t["mode"], t["token"]) for t in ticks] == [(1, "26000"), (1, "26009"), (3, "3045")]


def test_concatenated_bare_packets_without_header():
    ticks = FeedParser().feed(packet(2, "3045") + packet(2, "2885"))
    assert [t["token"] for t in ticks] == ["3045", "2885"]


def test_truncated_frame_is_counted_and_skipped():
    frame = framed(packet(2, "3045"), packet(2, "2885"))[:-10]
    parser = FeedParser()
    assert parser.feed(frame) == []
    assert (parser.stats.truncated, parser.stats.malformed, parser.stats.packets) == (1, 0, 0)


def test_truncated_frame_raises_from_parse():
    with pytest.raises(MalformedFrame) as caught:
        FeedParser().parse(framed(packet(3))[:200])
    assert caught.value.truncated is True


@pytest.mark.parametrize("frame", [b"", b"\x01"], ids=["empty", "one-byte"])
def test_a_frame_too_short_for_a_count_raises_malformed_from_parse(frame):
    with pytest.raises(MalformedFrame):
        FeedParser().parse(frame)


@pytest.mark.parametrize("frame", [b"", b"\x01"], ids=["empty", "one-byte"])
def test_a_frame_too_short_for_a_count_is_a_heartbeat_in_feed(frame):
    parser = FeedParser()
    assert parser.feed(frame) == []
    assert (parser.stats.heartbeats, parser.stats.malformed) == (1, 0)


@pytest.mark.parametrize(
    "frame",
    [
        bytes(range(60)),  # garbage
        struct.pack("<HH", 1, 77) + bytes(77),  # unknown packet size
        struct.pack("<HH", 0, 123),  # empty group
        framed(packet(1)) + b"\x01\x02\x03",  # stray bytes after a valid group
    ],
    ids=["garbage", "unknown-size", "zero-count", "stray-bytes"],
)
def test_malformed_frames_are_counted_and_skipped(frame):
    parser = FeedParser()
    assert parser.feed(frame) == []
    assert parser.stats.malformed == 1


def test_heartbeats_are_ignored():
    parser = FeedParser()
    assert parser.feed(b"") == [] and parser.feed(b"\x00") == []
    assert (parser.stats.heartbeats, parser.stats.malformed) == (2, 0)


def test_parser_keeps_going_after_bad_frames():
    parser = FeedParser()
    parser.feed(bytes(60))
    parser.feed(framed(packet(2))[:50])
    assert parser.feed(packet(1)) == [LTP_EXPECTED]
    assert (parser.stats.frames, parser.stats.packets) == (3, 1)


def test_timestamps_are_read_as_ist_from_1980():
    tick = FeedParser().feed(packet(1, ts=0))[0]
    assert tick["exchange_ts"] == 0  # absent, not 1980
    raw = secs_1980_ist(EXCH_TIME)
    assert FeedParser().feed(packet(1, ts=raw))[0]["exchange_ts"] == ms(EXCH_TIME)
    utc_reading = FeedParser(epoch_unix=EPOCH_1980_UTC).feed(packet(1, ts=raw))[0]["exchange_ts"]
    assert utc_reading - ms(EXCH_TIME) == 19_800_000


def test_nan_and_absurd_doubles_become_zero():
    tick = FeedParser().feed(packet(3, tbq=math.nan, tsq=math.inf, oi_chg=math.nan))[0]
    assert (tick["total_buy_qty"], tick["total_sell_qty"], tick["oi_change_pct"]) == (0, 0, 0.0)


def test_token_stops_at_the_first_nul():
    raw = b"22\0garbage".ljust(25, b"\0")
    assert FeedParser().feed(packet(1, token_raw=raw))[0]["token"] == "22"


def test_other_segments_and_memoryview_input():
    tick = FeedParser().feed(memoryview(framed(packet(2, "1594", exch=13, ltp=881225))))[0]
    assert (tick["exchange_type"], tick["token"], tick["ltp"]) == (13, "1594", 8812.25)


def test_empty_depth_levels_stay_as_zero_rows():
    tick = FeedParser().feed(packet(3, bids=[(0, 0, 0)] * 5, asks=ASKS))[0]
    assert tick["bids"] == [{"price": 0.0, "quantity": 0, "orders": 0}] * 5
    assert tick["asks"][0] == {"price": 812.4, "quantity": 60, "orders": 2}


def test_depth_flags_are_recorded_per_side():
    parser = FeedParser()
    parser.feed(packet(3))
    assert parser.stats.depth_flags == {"bid": {1}, "ask": {0}}


# --- a third framing: big-endian packet count, a big-endian length before each packet ------
# (issue 11 item 9: what a tested third-party mStock client reads, and the shape of the
# splitter the official SDK ships)


def length_prefixed(*packets: bytes) -> bytes:
    return struct.pack(">H", len(packets)) + b"".join(struct.pack(">H", len(p)) + p for p in packets)


@pytest.mark.parametrize(
    ("mode", "expected"), [(1, LTP_EXPECTED), (2, QUOTE_EXPECTED), (3, SNAP_EXPECTED)], ids=["ltp", "quote", "snap"]
)
def test_length_prefixed_single_packet(mode, expected):
    parser = FeedParser()
    assert parser.feed(length_prefixed(packet(mode))) == [expected]
    assert (parser.stats.packets, parser.stats.malformed) == (1, 0)


def test_length_prefixed_frame_may_mix_packet_sizes():
    frame = length_prefixed(packet(1, "26000"), packet(2, "3045", seq=2), packet(3, "2885", seq=3))
    ticks = FeedParser().feed(frame)
    assert [(t["mode"], t["token"], t["sequence"]) for t in ticks] == [(1, "26000", 7), (2, "3045", 2), (3, "2885", 3)]


def test_a_long_length_prefixed_batch():
    packets = [packet(2, str(1000 + i), seq=i) for i in range(300)]  # a count above 255 needs both bytes
    ticks = FeedParser().feed(length_prefixed(*packets))
    assert [t["sequence"] for t in ticks] == list(range(300))


def test_each_framing_reads_only_its_own_frames():
    # The same packets framed three ways give the same ticks; none is mistaken for another.
    packets = (packet(2, "3045", seq=1), packet(2, "2885", seq=2))
    results = [FeedParser().feed(f) for f in (framed(*packets), length_prefixed(*packets), b"".join(packets))]
    assert results[0] == results[1] == results[2]
    assert [t["token"] for t in results[0]] == ["3045", "2885"]


@pytest.mark.parametrize(
    "frame",
    [
        length_prefixed(packet(2), packet(2))[:-1],  # the last packet is one byte short
        struct.pack(">H", 3) + struct.pack(">H", 123) + packet(2),  # promises three packets, holds one
        b"\x01\x00\x33",  # three bytes: too short for any framing
    ],
    ids=["short-packet", "missing-packets", "three-bytes"],
)
def test_truncated_length_prefixed_frames_are_counted(frame):
    parser = FeedParser()
    assert parser.feed(frame) == []
    assert parser.stats.truncated + parser.stats.malformed == 1


@pytest.mark.parametrize(
    "frame",
    [
        length_prefixed(packet(2)) + b"\x00",  # a stray byte after the last packet
        struct.pack(">H", 1) + struct.pack(">H", 100) + bytes(100),  # a length no packet has
    ],
    ids=["stray-byte", "unknown-length"],
)
def test_frames_that_fit_no_framing_are_malformed(frame):
    parser = FeedParser()
    assert parser.feed(frame) == []
    assert parser.stats.malformed == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_bad_frames_are_logged_at_most_once_a_minute_and_never_stop_the_feed(caplog):
    clock = _Clock()
    parser = FeedParser(clock=clock)
    with caplog.at_level("WARNING", logger="broker.mstock.streaming.parser"):
        for _ in range(500):
            parser.feed(bytes(60))
            clock.now += 0.1  # 500 bad frames over 50 s
        assert parser.feed(packet(1)) == [LTP_EXPECTED]
        clock.now += 15.0  # a minute after the first report
        parser.feed(bytes(61))
    lines = [r.getMessage() for r in caplog.records if "feed frame" in r.getMessage()]
    assert len(lines) == 2
    assert "500 skipped so far" not in lines[0] and "1 skipped so far" in lines[0]
    assert "501 skipped so far" in lines[1] and "500 since the last report" in lines[1]
    assert parser.stats.malformed == 501
