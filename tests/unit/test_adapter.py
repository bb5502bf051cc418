"""MstockWebSocketAdapter against a local feed: topics, payloads, modes (contract 11)."""

from __future__ import annotations

import json
import threading

import pytest
import websocket

from broker.mstock import host
from broker.mstock.streaming.mstock_adapter import MstockWebSocketAdapter

from ..helpers import wait_until
from .feed_support import FAST, FEED_TOKEN_OK, MOMENT_MS, FakeSymbols, TokenBox

DEPTH_BUY = [
    {"price": 812.3, "quantity": 100, "orders": 3}, {"price": 812.25, "quantity": 250, "orders": 5},
    {"price": 812.2, "quantity": 75, "orders": 1}, {"price": 812.15, "quantity": 10, "orders": 1},
    {"price": 812.1, "quantity": 500, "orders": 9},
]
DEPTH_SELL = [
    {"price": 812.4, "quantity": 60, "orders": 2}, {"price": 812.45, "quantity": 40, "orders": 1},
    {"price": 812.5, "quantity": 300, "orders": 4}, {"price": 812.55, "quantity": 20, "orders": 1},
    {"price": 812.6, "quantity": 1000, "orders": 12},
]
SBIN_LTP = {"symbol": "SBIN", "exchange": "NSE", "mode": 1, "ltp": 812.35, "timestamp": MOMENT_MS}
SBIN_QUOTE = {
    **SBIN_LTP, "mode": 2, "open": 800.0, "high": 820.5, "low": 795.25, "close": 805.0, "volume": 1234567,
    "average_price": 810.45, "last_quantity": 15, "last_trade_quantity": 15, "total_buy_quantity": 150000,
    "total_sell_quantity": 175000, "change": 7.35, "change_percent": 0.91, "oi": 0,
}
SBIN_DEPTH = {
    **SBIN_QUOTE, "mode": 3, "oi_change_percent": 0.0, "ltt": MOMENT_MS - 2000, "upper_circuit": 885.5,
    "lower_circuit": 724.5, "high_52_week": 912.0, "low_52_week": 600.1, "bid_price": 812.3, "bid_size": 100,
    "ask_price": 812.4, "ask_size": 60, "depth": {"buy": DEPTH_BUY, "sell": DEPTH_SELL},
}


class Published:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def __call__(self, topic, data):
        with self.lock:
            self.items.append((topic, data))

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.items]

    def last(self, topic: str) -> dict:
        with self.lock:
            return [d for t, d in self.items if t == topic][-1]


@pytest.fixture
def symbols(monkeypatch):
    fake = FakeSymbols()
    monkeypatch.setattr(host, "symbols", lambda: fake)
    return fake


@pytest.fixture
def published():
    return Published()


@pytest.fixture
def adapter(feed_server, symbols, published):
    adapters = []

    def make(provider=None) -> MstockWebSocketAdapter:
        adapter = MstockWebSocketAdapter()
        adapter.feed_url = feed_server.url
        adapter.feed_options = FAST
        adapter.market_data_callback = published
        result = adapter.initialize("mstock", "alice", token_provider=provider or TokenBox())
        assert result["status"] == "success", result
        adapters.append(adapter)
        return adapter

    yield make
    for a in adapters:
        a.disconnect()


@pytest.mark.parametrize(
    ("mode", "topic", "expected"),
    [(1, "NSE_SBIN_LTP", SBIN_LTP), (2, "NSE_SBIN_QUOTE", SBIN_QUOTE), (3, "NSE_SBIN_DEPTH", SBIN_DEPTH)],
    ids=["ltp", "quote", "depth"],
)
def test_topic_and_payload_per_mode(adapter, published, mode, topic, expected):
    a = adapter()
    reply = a.subscribe("SBIN", "NSE", mode, 5)
    assert reply["status"] == "success"
    a.connect()
    assert wait_until(lambda: published.topics() == [topic])
    payload = published.last(topic)
    assert payload == expected
    assert json.loads(json.dumps(payload, allow_nan=False)) == expected  # plain JSON numbers


def test_index_topic_keeps_the_two_segment_exchange(adapter, published, feed_server):
    a = adapter()
    a.subscribe("NIFTY", "NSE_INDEX", 1)
    a.connect()
    assert wait_until(lambda: published.topics() == ["NSE_INDEX_NIFTY_LTP"])
    assert published.last("NSE_INDEX_NIFTY_LTP")["ltp"] == 24012.35
    assert feed_server.subscriptions() == {(1, "26000"): 1}


def test_currency_streams_on_13_not_on_cash(adapter, published, feed_server):
    a = adapter()
    a.subscribe("USDINR29SEP26FUT", "CDS", 2)
    a.connect()
    assert wait_until(lambda: published.topics() == ["CDS_USDINR29SEP26FUT_QUOTE"])
    assert feed_server.subscriptions() == {(13, "1594"): 3}  # snap mode: it carries open interest


@pytest.mark.parametrize("pooled", [False, True], ids=["proxy", "pool"])
def test_derivative_quotes_carry_open_interest(adapter, published, feed_server, pooled):
    # The Quote packet has no OI (spec 11.3); Snap Quote does, so derivatives are fed in snap
    # mode and published as QUOTE, with the OI of the snap packet.
    a = adapter()
    a._uses_shared_zmq = pooled
    a.subscribe("NIFTY30SEP26FUT", "NFO", 2)
    a.connect()
    assert wait_until(lambda: published.topics() == ["NFO_NIFTY30SEP26FUT_QUOTE"])
    assert feed_server.subscriptions() == {(2, "35001"): 3}
    payload = published.last("NFO_NIFTY30SEP26FUT_QUOTE")
    assert (payload["mode"], payload["oi"], payload["ltp"]) == (2, 1_250_000, 24100.0)
    assert "depth" not in payload and "bid_price" not in payload
    assert a.subscriptions["NFO:NIFTY30SEP26FUT"]["mode"] == 2
    # dropping to LTP needs no OI: the feed goes back to LTP packets
    a.unsubscribe("NIFTY30SEP26FUT", "NFO", 2)
    a.subscribe("NIFTY30SEP26FUT", "NFO", 1)
    assert wait_until(lambda: feed_server.subscriptions() == {(2, "35001"): 1})


def test_derivative_depth_carries_open_interest(adapter, published, feed_server):
    a = adapter()
    a.subscribe("NIFTY30SEP26FUT", "NFO", 3)
    a.connect()
    assert wait_until(lambda: published.topics() == ["NFO_NIFTY30SEP26FUT_DEPTH"])
    assert published.last("NFO_NIFTY30SEP26FUT_DEPTH")["oi"] == 1_250_000


def test_cash_quotes_stay_on_quote_packets_with_zero_oi(adapter, published, feed_server):
    a = adapter()
    a.subscribe("SBIN", "NSE", 2)
    a.connect()
    assert wait_until(lambda: published.topics() == ["NSE_SBIN_QUOTE"])
    assert feed_server.subscriptions() == {(1, "3045"): 2}
    assert published.last("NSE_SBIN_QUOTE")["oi"] == 0


@pytest.mark.parametrize("exchange", ["MCX", "BCD", "NCDEX"])
def test_exchanges_without_a_feed_segment_get_a_clear_error(adapter, exchange):
    symbol = {"MCX": "CRUDEOIL19SEP26FUT", "BCD": "USDINR29SEP26FUT"}.get(exchange, "X")
    reply = adapter().subscribe(symbol, exchange, 2)
    assert reply == {"status": "error", "code": "UNSUPPORTED_EXCHANGE", "message": f"{exchange} is not supported on the mStock feed"}


def test_unknown_symbol_and_mode(adapter):
    a = adapter()
    assert a.subscribe("NOPE", "NSE", 2)["code"] == "SYMBOL_NOT_FOUND"
    assert a.subscribe("SBIN", "NSE", 4)["code"] == "INVALID_MODE"
    assert a.unsubscribe("SBIN", "NSE", 2)["code"] == "NOT_SUBSCRIBED"


def test_subscribe_and_unsubscribe_only_enqueue(adapter, monkeypatch, feed_server):
    senders: list[str] = []
    real_send = websocket.WebSocket.send

    def spy(self, payload, *args, **kwargs):
        senders.append(threading.current_thread().name)
        return real_send(self, payload, *args, **kwargs)

    monkeypatch.setattr(websocket.WebSocket, "send", spy)
    a = adapter()
    a.connect()
    assert wait_until(lambda: feed_server.connection_count == 1)
    caller = threading.current_thread().name
    a.subscribe("SBIN", "NSE", 2)
    a.subscribe("RELIANCE", "NSE", 3)
    a.unsubscribe("SBIN", "NSE", 2)
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "2885"): 3})
    assert senders and caller not in senders


def test_depth_subscription_fed_quote_packets_publishes_quote(adapter, published, feed_server):
    a = adapter()
    a.subscribe("SBIN", "NSE", 3)
    a.connect()
    assert wait_until(lambda: published.topics() == ["NSE_SBIN_DEPTH"])
    # A packet carrying less than asked is published for what it is (min of the two modes).
    a._on_ticks([{**{k: v for k, v in _quote_tick().items()}, "mode": 2}])
    assert published.topics()[-1] == "NSE_SBIN_QUOTE"


def _quote_tick() -> dict:
    return {
        "mode": 2, "exchange_type": 1, "token": "3045", "sequence": 1, "exchange_ts": MOMENT_MS, "ltp": 812.35,
        "last_qty": 15, "avg_price": 810.45, "volume": 1234567, "total_buy_qty": 150000, "total_sell_qty": 175000,
        "open": 800.0, "high": 820.5, "low": 795.25, "close": 805.0,
    }


def test_per_mode_bookkeeping_without_the_pool(adapter, feed_server):
    a = adapter()
    a.connect()
    a.subscribe("SBIN", "NSE", 1)
    a.subscribe("SBIN", "NSE", 3)
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 3})
    a.unsubscribe("SBIN", "NSE", 3)  # mode-1 clients remain
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 1})
    a.unsubscribe("SBIN", "NSE", 1)
    assert wait_until(lambda: feed_server.subscriptions() == {})


def test_pooled_unsubscribe_drops_the_symbol(adapter, feed_server):
    a = adapter()
    a._uses_shared_zmq = True  # what OpenAlgo's ConnectionPool sets on its adapters
    a.connect()
    a.subscribe("SBIN", "NSE", 1)
    a.subscribe("SBIN", "NSE", 3)  # the pool's upgrade: no unsubscribe of mode 1 first
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 3})
    a.unsubscribe("SBIN", "NSE", 3)  # the pool's "last mode gone"
    assert wait_until(lambda: feed_server.subscriptions() == {})
    a.subscribe("SBIN", "NSE", 3)
    a.unsubscribe("SBIN", "NSE", 3)  # the pool's downgrade: unsubscribe(old) then subscribe(new)
    a.subscribe("SBIN", "NSE", 2)
    assert wait_until(lambda: feed_server.subscriptions() == {(1, "3045"): 2})


def test_unsubscribe_all_and_disconnect(adapter, feed_server, published):
    before = set(threading.enumerate())
    a = adapter()
    a.subscribe("SBIN", "NSE", 2)
    a.subscribe("RELIANCE", "NSE", 2)
    a.connect()
    assert wait_until(lambda: len(feed_server.subscriptions()) == 2)
    assert a.unsubscribe_all()["status"] == "success"
    assert wait_until(lambda: feed_server.subscriptions() == {})
    assert a.subscriptions == {}
    assert a.disconnect()["status"] == "success"
    assert [t.name for t in set(threading.enumerate()) - before if t.name.startswith("mstock-feed")] == []
    assert a.connected is False


def test_subscriptions_survive_reinitialise_and_reconnect(adapter, feed_server, published, market):
    tokens = TokenBox()
    a = adapter(tokens)
    a.subscribe("SBIN", "NSE", 2)
    a.connect()
    assert wait_until(lambda: published.topics() == ["NSE_SBIN_QUOTE"])
    tokens.token = "feed-token-day-2"
    assert wait_until(lambda: feed_server.connection_count == 1)
    feed_server.drop_all_connections()
    assert wait_until(lambda: feed_server.logins == 2 and feed_server.subscriptions() == {(1, "3045"): 2})
    assert a.initialize("mstock", "alice", token_provider=tokens)["status"] == "success"
    a.connect()
    assert wait_until(lambda: feed_server.logins == 3 and feed_server.subscriptions() == {(1, "3045"): 2})
    market.set_ltp("3045", 820.0)
    feed_server.publish_now()
    assert wait_until(lambda: published.last("NSE_SBIN_QUOTE")["ltp"] == 820.0)


def test_initialize_reports_missing_session_and_key(symbols, monkeypatch):
    a = MstockWebSocketAdapter()
    reply = a.initialize("mstock", "alice", token_provider=lambda: None)
    assert reply["status"] == "error" and reply["code"] == "AUTH_ERROR"
    assert a.is_auth_error(reply["message"])  # so OpenAlgo's proxy retries with a fresh token
    monkeypatch.delenv("BROKER_API_SECRET")
    reply = a.initialize("mstock", "alice", token_provider=lambda: FEED_TOKEN_OK)
    assert reply["code"] == "CONFIG_ERROR" and "BROKER_API_SECRET" in reply["message"]
    assert a.connect()["code"] == "NOT_INITIALIZED"


def test_default_token_provider_reads_the_stored_session(symbols, monkeypatch):
    seen = []

    def stored(user):
        seen.append(user)
        return host.StoredSession(access_token="token-from-db", user=user)

    monkeypatch.setattr(host, "stored_session", stored)
    a = MstockWebSocketAdapter()
    assert a.initialize("mstock", "alice")["status"] == "success"
    assert seen == ["alice"]
    monkeypatch.setattr(host, "stored_session", lambda user: None)
    assert a.initialize("mstock", "alice", auth_data={"auth_token": "token-from-proxy"})["status"] == "success"
    a.disconnect()


def test_order_updates_go_to_the_callback(adapter, feed_server):
    a = adapter()
    updates = []
    a.on_order_update = lambda kind, data: updates.append((kind, data))
    a.connect()
    assert wait_until(lambda: feed_server.connection_count == 1)
    feed_server.broadcast_text({"order_status": "trade", "orderData": {"orderid": "1181250130106"}})
    assert wait_until(lambda: updates == [("trade", {"orderid": "1181250130106"})])


def test_subscribe_reply_reports_the_depth_mstock_has(adapter):
    a = adapter()
    assert a.subscribe("SBIN", "NSE", 3, 20) == {
        "status": "success", "message": "subscribed to SBIN.NSE in DEPTH mode (mStock sends 5 depth levels)",
        "symbol": "SBIN", "exchange": "NSE", "mode": 3, "actual_depth": 5,
    }
    assert "actual_depth" not in a.subscribe("RELIANCE", "NSE", 2)
