"""The sandbox's feed server behaves like spec 11 says the real one does."""

from __future__ import annotations

import json
import struct

import pytest
import websocket

from mstock_sandbox.feed import FeedServer, encode_frames, encode_packet

from .feed_support import FEED_TOKEN_OK, MOMENT_MS, FakeMarket, Snap

KEY = "feed-key"


def connect(server: FeedServer, token: str = FEED_TOKEN_OK, *, login: bool = True) -> websocket.WebSocket:
    ws = websocket.create_connection(f"{server.url}?API_KEY={KEY}&ACCESS_TOKEN={token}", timeout=2)
    if login:
        ws.send(f"LOGIN:{token}")
    return ws


def subscribe(ws, mode: int, exchange_type: int, tokens: list[str]) -> None:
    ws.send(json.dumps({"action": 1, "params": {"mode": mode, "tokenList": [{"exchangeType": exchange_type, "tokens": tokens}]}}))


def header(frame: bytes) -> tuple[int, int]:
    return struct.unpack_from("<HH", frame)


@pytest.mark.parametrize("query", ["API_KEY=feed-key&ACCESS_TOKEN=wrong", "API_KEY=feed-key", ""])
def test_bad_credentials_are_refused_at_the_upgrade(feed_server, query):
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(f"{feed_server.url}?{query}", timeout=2)
    assert caught.value.status_code == 401


def test_login_must_come_first(market):
    with FeedServer(market, publish_interval=None, login_timeout=0.05) as server:
        silent = connect(server, login=False)
        opcode, data = silent.recv_data()
        assert (opcode, struct.unpack("!H", data[:2])[0]) == (websocket.ABNF.OPCODE_CLOSE, 1008)
        wrong = connect(server, login=False)
        wrong.send("LOGIN:someone-else")
        opcode, data = wrong.recv_data()
        assert struct.unpack("!H", data[:2])[0] == 1008
        assert server.logins == 0
        silent.shutdown()
        wrong.shutdown()


def test_subscribe_gets_a_header_prefixed_frame_at_once(feed_server):
    ws = connect(feed_server)
    subscribe(ws, 2, 1, ["3045", "2885"])
    frame = ws.recv()
    assert header(frame) == (2, 123) and len(frame) == 4 + 2 * 123
    assert frame[4:6] == b"\x02\x01"  # mode 2, exchange type 1
    ws.close()


def test_wrong_segment_stays_silent(feed_server):
    ws = connect(feed_server)
    subscribe(ws, 1, 1, ["1594"])  # a currency token asked on NSE cash (D11)
    subscribe(ws, 1, 13, ["1594"])
    frame = ws.recv()
    assert frame[5] == 13  # only the currency-segment request is answered
    assert feed_server.publish_now() == 1
    ws.close()


def test_invalid_request_gets_an_error_text(feed_server):
    ws = connect(feed_server)
    ws.send("{not json")
    assert json.loads(ws.recv())["type"] == "error"
    ws.send(json.dumps({"action": 1, "params": {"mode": 7, "tokenList": []}}))
    assert json.loads(ws.recv()) == {"type": "error", "data": "invalid request: bad action 1 / mode 7"}
    ws.close()


def test_many_tokens_are_batched_per_frame():
    snaps = [Snap(str(10_000 + i), 1) for i in range(60)]
    with FeedServer(FakeMarket(snaps), publish_interval=None, batch_size=50) as server:
        ws = connect(server)
        subscribe(ws, 1, 1, [s.token for s in snaps])
        assert [header(ws.recv()) for _ in range(2)] == [(50, 51), (10, 51)]
        ws.close()


def test_periodic_publishing(market):
    with FeedServer(market, publish_interval=0.01) as server:
        ws = connect(server)
        subscribe(ws, 3, 2, ["35001"])
        frames = [ws.recv() for _ in range(3)]
        assert {header(f) for f in frames} == {(1, 379)}
        ws.close()


def test_packet_sizes():
    snap = Snap("3045", 1)
    assert [len(encode_packet(snap, mode, 1, 1)) for mode in (1, 2, 3)] == [51, 123, 379]
    frames = encode_frames({3: [encode_packet(snap, 3, 1, 1)], 1: [encode_packet(snap, 1, 1, 2)] * 3}, batch_size=2)
    assert [header(f) for f in frames] == [(2, 51), (1, 51), (1, 379)]


# ------------------------------------------------------------------ framings and encodings


def test_bare_framing_sends_each_packet_alone():
    packets = [encode_packet(Snap("3045", 1), 1, 1, n) for n in (1, 2)]
    assert encode_frames({1: packets}, batch_size=50, framing="bare") == packets


def test_big_endian_framing_exact_bytes():
    ltp = encode_packet(Snap("3045", 1), 1, 1, 1)
    quote = encode_packet(Snap("2885", 1), 2, 1, 2)
    frames = encode_frames({1: [ltp, ltp], 2: [quote]}, batch_size=50, framing="big-endian")
    assert frames == [
        b"\x00\x02" + b"\x00\x33" + ltp + b"\x00\x33" + ltp,
        b"\x00\x01" + b"\x00\x7b" + quote,
    ]


def test_unknown_framing_is_refused():
    with pytest.raises(ValueError, match="unknown feed framing 'json'"):
        FeedServer(FakeMarket(), framing="json")


def test_packet_format_options():
    from datetime import datetime, timezone

    from mstock_sandbox.feed import EPOCH_1980_UTC, PacketFormat

    snap = Snap("1594", 13, ltp=88.1275, close=88.0)
    default = encode_packet(snap, 3, 13, 7)
    custom = encode_packet(snap, 3, 13, 7, PacketFormat(currency_divisor=10_000_000, epoch=EPOCH_1980_UTC,
                                                         bid_flag=66, ask_flag=83, asks_first=True))
    assert struct.unpack_from("<q", default, 43)[0] == 8813  # rupees x 100
    assert struct.unpack_from("<q", custom, 43)[0] == 881_275_000  # rupees x 10^7
    moment = snap.exchange_time
    assert struct.unpack_from("<q", default, 35)[0] == int((moment - datetime(1980, 1, 1, tzinfo=moment.tzinfo)).total_seconds())
    # 1980-01-01 00:00 UTC is 5.5 h after 1980-01-01 00:00 IST: a UTC count is 19800 s smaller
    assert struct.unpack_from("<q", default, 35)[0] - struct.unpack_from("<q", custom, 35)[0] == 19_800
    assert EPOCH_1980_UTC == datetime(1980, 1, 1, tzinfo=timezone.utc)
    flags = [struct.unpack_from("<h", custom, 147 + 20 * i)[0] for i in range(10)]
    assert flags == [83] * 5 + [66] * 5  # asks first, flagged 83; then bids, flagged 66
    first_ask = struct.unpack_from("<hqqh", custom, 147)
    assert first_ask == (83, 60, round(812.4 * 10_000_000), 2)
    # an equity on exchange type 1 keeps the divisor 100 whatever the currency divisor
    equity = encode_packet(Snap("3045", 1), 1, 1, 1, PacketFormat(currency_divisor=10_000_000))
    assert struct.unpack_from("<q", equity, 43)[0] == 81235


def test_the_plugin_parser_reads_the_default_encoding():
    from broker.mstock.streaming.parser import FeedParser

    frame = encode_frames({3: [encode_packet(Snap("3045", 1), 3, 1, 9)]}, batch_size=50)[0]
    (tick,) = FeedParser().parse(frame)
    assert (tick["token"], tick["ltp"], tick["exchange_ts"]) == ("3045", 812.35, MOMENT_MS)


def test_last_published_records_what_was_sent(feed_server):
    ws = connect(feed_server)
    subscribe(ws, 1, 1, ["3045"])
    ws.recv()
    sent = feed_server.last_published("3045", 1)
    assert (sent.exchange_type, sent.token, sent.mode, sent.snapshot.ltp) == (1, "3045", 1, 812.35)
    assert feed_server.last_published("3045", 2) is None
    ws.close()
