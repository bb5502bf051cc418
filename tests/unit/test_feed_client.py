"""The feed client against a local feed server over loopback (spec 11; D8, D10, D12)."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import threading

import pytest

from broker.mstock.streaming.feed import READY, RECONNECTING, STOOD_DOWN, STOPPED, FeedClient

from ..helpers import wait_until
from .feed_support import FAST, FEED_TOKEN_OK, TokenBox

API_KEY = "feed-api-key/Zk3@@"


class Recorder:
    def __init__(self) -> None:
        self.ticks: list[dict] = []
        self.texts: list = []
        self.states: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def on_ticks(self, ticks):
        with self.lock:
            self.ticks.extend(ticks)

    def on_text(self, message):
        self.texts.append(message)

    def on_state(self, state, reason):
        self.states.append((state, reason))

    def tokens(self) -> list[str]:
        with self.lock:
            return [t["token"] for t in self.ticks]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def make_client(feed_server, recorder):
    clients: list[FeedClient] = []

    def make(provider=None, **kwargs) -> FeedClient:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("url", feed_server.url)
        kwargs.setdefault("on_ticks", recorder.on_ticks)
        kwargs.setdefault("on_text", recorder.on_text)
        kwargs.setdefault("on_state", recorder.on_state)
        kwargs.setdefault("options", FAST)
        client = FeedClient(provider or TokenBox(), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.stop()


def requests(server, action=None):
    return [r for r in server.received_requests() if action is None or r["action"] == action]


def test_subscriptions_made_before_connecting_are_sent_after_login(feed_server, make_client, recorder):
    client = make_client()
    client.subscribe(1, ["3045", "2885"], 2)
    client.subscribe(13, ["1594"], 2)
    client.start()
    assert wait_until(lambda: len(recorder.tokens()) == 3)
    assert requests(feed_server) == [
        {"action": 1, "params": {"mode": 2, "tokenList": [{"exchangeType": 1, "tokens": ["2885", "3045"]}, {"exchangeType": 13, "tokens": ["1594"]}]}}
    ]
    assert feed_server.logins == 1
    assert client.state == READY


def test_requests_made_close_together_leave_as_one_frame(feed_server, make_client):
    client = make_client().start()
    assert client.wait_for_state(READY, timeout=2)
    for token in ("3045", "2885", "26000"):
        client.subscribe(1, [token], 1)
    client.subscribe(2, ["35001"], 1)
    assert wait_until(lambda: len(feed_server.subscriptions()) == 4)
    assert requests(feed_server) == [
        {"action": 1, "params": {"mode": 1, "tokenList": [{"exchangeType": 1, "tokens": ["26000", "2885", "3045"]}, {"exchangeType": 2, "tokens": ["35001"]}]}}
    ]


def test_mode_upgrade_and_downgrade(feed_server, make_client):
    client = make_client().start()
    client.subscribe(1, ["3045"], 1)
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 1})
    client.subscribe(1, ["3045"], 3)
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 3})
    client.subscribe(1, ["3045"], 2)
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 2})
    steps = [(r["action"], r["params"]["mode"]) for r in requests(feed_server)]
    assert steps == [(1, 1), (0, 1), (1, 3), (0, 3), (1, 2)]


def test_full_unsubscribe_reaches_the_server(feed_server, make_client):
    client = make_client().start()
    client.subscribe(1, ["3045", "2885"], 2)
    assert wait_until(lambda: len(feed_server.subscriptions()) == 2)
    client.unsubscribe(1, ["3045"])
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "2885"): 2})
    client.unsubscribe_all()
    assert wait_until(lambda: feed_server.subscriptions() == {})
    assert [r["params"]["tokenList"] for r in requests(feed_server, 0)] == [
        [{"exchangeType": 1, "tokens": ["3045"]}],
        [{"exchangeType": 1, "tokens": ["2885"]}],
    ]


def test_a_subscribe_and_unsubscribe_inside_one_batch_sends_nothing(feed_server, make_client):
    client = make_client().start()
    assert client.wait_for_state(READY, timeout=2)
    client.subscribe(1, ["3045"], 2)
    client.subscribe(1, ["2885"], 2)
    client.unsubscribe(1, ["3045"])
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "2885"): 2})
    assert len(requests(feed_server)) == 1


def test_reconnects_with_a_fresh_token_and_resubscribes(feed_server, make_client, recorder, market):
    tokens = TokenBox()
    client = make_client(tokens)
    client.subscribe(1, ["3045"], 3)
    client.start()
    assert wait_until(lambda: recorder.tokens() == ["3045"])
    tokens.token = "feed-token-day-2"  # the daily roll-over (contract 11.5)
    calls_before = tokens.calls
    assert feed_server.drop_all_connections() == 1
    assert wait_until(lambda: feed_server.logins == 2 and feed_server.subscriptions() == {(1, "3045"): 3})
    assert tokens.calls > calls_before
    market.set_ltp("3045", 815.0)
    feed_server.publish_now()
    assert wait_until(lambda: len(recorder.ticks) >= 3)
    assert recorder.ticks[-1]["ltp"] == 815.0
    assert client.connections == 2
    assert any(state == RECONNECTING for state, _ in recorder.states)


def test_auth_failure_stands_down_until_the_token_changes(feed_server, make_client, recorder, accepted_tokens):
    tokens = TokenBox("expired-token")
    client = make_client(tokens)
    client.subscribe(1, ["3045"], 2)
    client.start()
    assert client.wait_for_state(STOOD_DOWN, timeout=2)
    assert "HTTP 401" in client.reason
    calls = tokens.calls
    assert wait_until(lambda: tokens.calls >= calls + 3)  # it keeps asking for a new token...
    assert feed_server.rejected_upgrades == 1  # ...without knocking again with the refused one
    tokens.token = FEED_TOKEN_OK
    assert client.wait_for_state(READY, timeout=2)
    assert wait_until(lambda: recorder.tokens() == ["3045"])
    assert client.auth_failures == 1


def test_no_session_stands_down_with_a_reason(make_client):
    client = make_client(TokenBox(None)).start()
    assert client.wait_for_state(STOOD_DOWN, timeout=2)
    assert client.reason == "no mStock session: log in first"


def test_disconnect_is_prompt_and_leaves_no_thread_or_connection(feed_server, make_client):
    before = set(threading.enumerate())
    client = make_client()
    client.subscribe(1, ["3045"], 2)
    client.start()
    assert wait_until(lambda: feed_server.connection_count == 1 and feed_server.subscriptions())
    client.stop()
    assert [t.name for t in set(threading.enumerate()) - before if t.name.startswith("mstock-feed")] == []
    assert client.state == STOPPED
    assert client._ws is None
    # The server's own per-connection threads end once it has seen the close.
    assert wait_until(lambda: feed_server.connection_count == 0 and set(threading.enumerate()) == before)
    client.stop()  # idempotent


def test_stop_during_backoff_leaves_no_thread(make_client):
    before = set(threading.enumerate())
    client = make_client(url="ws://127.0.0.1:9", options=FAST)  # nothing listens on port 9
    client.start()
    assert client.wait_for_state(RECONNECTING, timeout=2)
    client.stop()
    assert set(threading.enumerate()) == before


def test_order_trade_and_error_text_frames_reach_the_callback(feed_server, make_client, recorder):
    make_client().start()
    assert wait_until(lambda: feed_server.connection_count == 1)
    feed_server.broadcast_text({"order_status": "order", "orderData": {"orderid": "1181250130106", "status": "complete"}})
    feed_server.broadcast_text({"type": "trade", "data": {"fillid": "55"}})
    feed_server.broadcast_text({"type": "error", "data": "bad request"})
    assert wait_until(lambda: len(recorder.texts) == 3)
    assert [(m.kind, m.data) for m in recorder.texts] == [
        ("order", {"orderid": "1181250130106", "status": "complete"}),
        ("trade", {"fillid": "55"}),
        ("error", "bad request"),
    ]


def test_a_failing_tick_callback_does_not_stop_the_feed(feed_server, make_client):
    seen = []

    def explode(ticks):
        seen.extend(ticks)
        raise RuntimeError("consumer bug")

    client = make_client(on_ticks=explode)
    client.subscribe(1, ["3045"], 1)
    client.start()
    assert wait_until(lambda: len(seen) == 1)
    feed_server.publish_now()
    assert wait_until(lambda: len(seen) == 2)


def test_secrets_never_reach_the_logs(feed_server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    tokens = TokenBox("expired-token")
    client = make_client(tokens)
    client.subscribe(1, ["3045"], 2)
    client.start()
    assert client.wait_for_state(STOOD_DOWN, timeout=2)
    tokens.token = FEED_TOKEN_OK
    assert wait_until(lambda: feed_server.connection_count == 1)
    feed_server.drop_all_connections()
    assert wait_until(lambda: feed_server.logins == 2)
    client.stop()
    text = caplog.text
    assert caplog.records  # something was logged
    for secret in (API_KEY, FEED_TOKEN_OK, "expired-token", "Zk3"):
        assert secret not in text


# ------------------------------------------------------------------ a server that goes quiet


def _silent_server():
    """Accepts one WebSocket upgrade, then never sends a byte nor answers pings."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, accepted, thread


def test_a_silent_connection_is_replaced(recorder):
    listener, accepted, thread = _silent_server()
    options = FAST.__class__(**{**FAST.__dict__, "silence_timeout": 0.1, "ping_interval": 0.03})
    client = FeedClient(
        TokenBox(), api_key=API_KEY, url=f"ws://127.0.0.1:{listener.getsockname()[1]}",
        on_ticks=recorder.on_ticks, on_state=recorder.on_state, options=options,
    ).start()
    try:
        assert wait_until(lambda: len(accepted) >= 2, timeout=3)
        assert any("no data and no pong" in reason for _, reason in recorder.states)
    finally:
        client.stop()
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        except OSError:
            pass
        listener.close()
        for conn in accepted:
            conn.close()
        thread.join(1)
