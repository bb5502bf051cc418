"""End to end: the OpenAlgo streaming adapter against the sandbox's feed (spec 11).

The symbol table comes from the sandbox's master, the token from a sandbox session, and
ticks travel over a real WebSocket on loopback.
"""

from __future__ import annotations

import threading

import pytest

from broker.mstock import host
from broker.mstock.database.master_contract_db import refresh_master
from broker.mstock.streaming.feed import FeedOptions
from broker.mstock.streaming.mstock_adapter import MstockWebSocketAdapter
from broker.mstock.streaming.snapshot import depth_snapshot

from ..helpers import wait_until

pytestmark = pytest.mark.e2e


class Published:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latest: dict[str, dict] = {}

    def __call__(self, topic: str, data: dict) -> None:
        with self.lock:
            self.latest[topic] = data

    def get(self, topic: str) -> dict | None:
        with self.lock:
            return self.latest.get(topic)


@pytest.fixture
def adapter(sandbox, sandbox_token):
    refresh_master(sandbox_token)
    published = Published()
    adapter = MstockWebSocketAdapter()
    adapter.feed_options = FeedOptions(batch_window=0.01, recv_poll=0.1, backoff_initial=0.01, backoff_max=0.05)
    adapter.market_data_callback = published
    assert adapter.initialize("mstock", "e2e", token_provider=lambda: sandbox_token)["status"] == "success"
    adapter.published = published
    yield adapter
    adapter.disconnect()


def _currency_future():
    rows = [r for r in host.symbols().search("USDINR", "CDS", limit=200) if r.instrumenttype == "FUT"]
    assert rows, "the sandbox master has USDINR futures"
    return rows[0]


def test_ticks_for_equity_option_and_currency(sandbox, adapter):
    option = next(r for r in host.symbols().search("NIFTY", "NFO", limit=500) if r.instrumenttype == "CE")
    currency = _currency_future()
    wanted = {
        ("SBIN", "NSE", 1): "NSE_SBIN_LTP",
        (option.symbol, "NFO", 3): f"NFO_{option.symbol}_DEPTH",
        (currency.symbol, "CDS", 2): f"CDS_{currency.symbol}_QUOTE",
    }
    for (symbol, exchange, mode) in wanted:
        reply = adapter.subscribe(symbol, exchange, mode)
        assert reply["status"] == "success", reply
    adapter.connect()
    assert wait_until(lambda: all(adapter.published.get(t) for t in wanted.values()))
    # currency on NSECD, not cash (D11), in snap mode: its QUOTE carries open interest
    assert sandbox.feed.subscriptions()[(13, currency.token)] == 3
    assert "oi" in adapter.published.get(f"CDS_{currency.symbol}_QUOTE")

    price = sandbox.state.market.set_ltp("3045", 612.4, "NSE").ltp
    sandbox.feed.publish_now()
    assert wait_until(lambda: adapter.published.get("NSE_SBIN_LTP")["ltp"] == price)

    depth = adapter.published.get(f"NFO_{option.symbol}_DEPTH")
    assert len(depth["depth"]["buy"]) == 5 and len(depth["depth"]["sell"]) == 5
    assert depth["depth"]["buy"][0]["price"] <= depth["depth"]["sell"][0]["price"]
    assert {"open", "high", "low", "close", "volume", "oi", "timestamp"} <= set(depth)


def test_feed_survives_a_dropped_connection(sandbox, adapter):
    adapter.subscribe("SBIN", "NSE", 2)
    adapter.connect()
    assert wait_until(lambda: adapter.published.get("NSE_SBIN_QUOTE"))
    assert wait_until(lambda: sandbox.feed.connection_count == 1)
    sandbox.feed.drop_all_connections()
    assert wait_until(lambda: sandbox.feed.connection_count == 1 and sandbox.feed.subscriptions() == {(1, "3045"): 2})
    price = sandbox.state.market.set_ltp("3045", 598.1, "NSE").ltp
    sandbox.feed.publish_now()
    assert wait_until(lambda: adapter.published.get("NSE_SBIN_QUOTE")["ltp"] == price)


def test_depth_snapshot_from_the_sandbox_feed(sandbox, sandbox_token):
    snap = depth_snapshot(sandbox_token, "NSE", "3045", timeout=3)
    assert snap["token"] == "3045" and snap["ltp"] > 0
    assert len(snap["bids"]) == 5 and snap["bids"][0]["price"] <= snap["asks"][0]["price"]


@pytest.mark.parametrize("framing", ["header", "bare", "big-endian"])
def test_every_feed_framing_is_read(sandbox, adapter, framing):
    # The sandbox's feed can frame its packets every way a source describes (issue 11 item 9).
    previous = sandbox.feed.framing
    sandbox.feed.framing = framing
    try:
        wanted = {("SBIN", "NSE", 2): "NSE_SBIN_QUOTE", ("RELIANCE", "NSE", 2): "NSE_RELIANCE_QUOTE",
                  ("NIFTY", "NSE_INDEX", 1): "NSE_INDEX_NIFTY_LTP"}
        for symbol, exchange, mode in wanted:
            assert adapter.subscribe(symbol, exchange, mode)["status"] == "success"
        adapter.connect()
        assert wait_until(lambda: all(adapter.published.get(t) for t in wanted.values()))
        price = sandbox.state.market.set_ltp("3045", 612.4, "NSE").ltp
        sandbox.feed.publish_now()
        assert wait_until(lambda: adapter.published.get("NSE_SBIN_QUOTE")["ltp"] == price)
    finally:
        sandbox.feed.framing = previous
