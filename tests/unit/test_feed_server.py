"""The sandbox's feed server behaves like spec 11 says the real one does."""

from __future__ import annotations

import json
import struct

import pytest
import websocket

from mstock_sandbox.feed import FeedServer, encode_frames, encode_packet

from .feed_support import FEED_TOKEN_OK, FakeMarket, Snap

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
