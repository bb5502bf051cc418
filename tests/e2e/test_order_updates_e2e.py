"""End to end: the order-update adapter against the sandbox (push frames, book backstop, fallback).

Orders are placed through OpenAlgo's ``place_order_api`` and moved by the sandbox's levers
(``fill``, ``trigger``, reject rules); every event the adapter publishes is collected and
compared field by field. Waits are synchronisation on an expected state, never timing
assertions.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from broker.mstock import host
from broker.mstock.api import order_api
from broker.mstock.database.master_contract_db import refresh_master
from broker.mstock.streaming.feed import READY, FeedClient, FeedOptions
from broker.mstock.streaming.mstock_order_adapter import POLLING, PUSH, OrderUpdateOptions, order_adapter_class
from broker.mstock.streaming.order_events import EVENT_FIELDS

from ..helpers import wait_until
from .sandbox_support import FeedListener, running_sandbox

pytestmark = pytest.mark.e2e

FAST_FEED = FeedOptions(connect_timeout=2.0, recv_poll=0.05, ping_interval=0.5, silence_timeout=5.0,
                        backoff_initial=0.05, backoff_max=0.2, auth_recheck_interval=0.05, join_timeout=2.0)


def fast(**overrides: Any) -> OrderUpdateOptions:
    values: dict[str, Any] = dict(poll_interval=0.2, backstop_interval=30.0, reconnect_settle=0.05, probe_delay=0.3,
                                  probe_settle=0.3, eviction_window=5.0, feed=FAST_FEED, join_timeout=2.0)
    values.update(overrides)
    return OrderUpdateOptions(**values)


class Events:
    """Every event the adapter published, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict[str, Any]] = []

    def __call__(self, fields: dict[str, Any]) -> None:
        with self.lock:
            self.items.append(fields)

    def of(self, orderid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.items if e["orderid"] == orderid]

    def states(self, orderid: str) -> list[tuple[str, int]]:
        return [(e["order_status"], e["filled_quantity"]) for e in self.of(orderid)]

    def wait(self, orderid: str, status: str, filled: int | None = None, timeout: float = 5.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event in self.of(orderid):
                if event["order_status"] == status and (filled is None or event["filled_quantity"] == filled):
                    return event
            return None

        assert wait_until(lambda: found() is not None, timeout), f"no {status} event for {orderid}: {self.of(orderid)}"
        return found()  # type: ignore[return-value]


class Gate:
    """A token provider that can hold back the socket's reconnections: while closed it
    blocks the feed's threads (the book reads go on)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._open = threading.Event()
        self._open.set()

    def __call__(self) -> str:
        if threading.current_thread().name.startswith("mstock-order-feed"):
            self._open.wait()
        return self.token

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()


@contextmanager
def following(token_provider: Callable[[], str | None], options: OrderUpdateOptions, **kwargs: Any) -> Iterator[Any]:
    adapter = order_adapter_class()("e2e", token_provider=token_provider, options=options, **kwargs)
    events = Events()
    adapter.on_event = events
    adapter.events = events
    adapter.connect()
    try:
        yield adapter
    finally:
        adapter.disconnect()


def ready(adapter: Any, *, probed: bool = True) -> None:
    """Until the first book read is done, the socket is up and (unless asked) the probe is over."""
    assert wait_until(lambda: adapter.ledger.seeded and adapter.connected
                      and (not probed or adapter.status()["second_socket_checked"]), 10), adapter.status()


@pytest.fixture
def token(sandbox) -> str:
    token = sandbox.issue_session().access_token
    refresh_master(token)
    return token


def store_sbin() -> None:
    """The one instrument these tests trade, in the standalone symbol table (the small
    sandboxes' master is below the download's plausibility floor)."""
    from broker.mstock import config
    from broker.mstock.local.symbol_store import get_store

    get_store(config.settings().database_url).replace_all(
        [("SBIN", "SBIN-EQ", "SBIN", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)])


def limit_price(server, token_id: str = "3045", exchange: str = "NSE", ratio: float = 0.95) -> float:
    market = server.state.market
    close = market.snapshot(token_id, exchange).close
    market.set_ltp(token_id, close, exchange)
    return round(round(close * ratio / 0.05) * 0.05, 2)


def place(token: str, **fields: Any) -> str:
    data = {"apikey": "oa", "strategy": "e2e", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10,
            "pricetype": "LIMIT", "product": "MIS", "price": 0, "trigger_price": 0, "disclosed_quantity": 0}
    data.update(fields)
    response, body, orderid = order_api.place_order_api(data, token)
    assert orderid, body
    return orderid


def test_every_state_of_a_limit_order_is_published_once_with_openalgo_values(sandbox, token):
    with following(lambda: token, fast()) as adapter:
        ready(adapter)
        price = limit_price(sandbox)
        orderid = place(token, price=price)
        adapter.events.wait(orderid, "open")
        sandbox.fill(orderid, quantity=4)
        adapter.events.wait(orderid, "open", filled=4)
        response, status = order_api.modify_order(
            {"apikey": "oa", "strategy": "e2e", "orderid": orderid, "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
             "product": "MIS", "pricetype": "LIMIT", "price": round(price - 1, 2), "quantity": 10, "trigger_price": 0,
             "disclosed_quantity": 0}, token)
        assert status == 200, response
        assert wait_until(lambda: len(adapter.events.of(orderid)) == 3), adapter.events.of(orderid)
        sandbox.fill(orderid)
        adapter.events.wait(orderid, "complete")
        adapter.read_book()  # the backstop sees nothing new
        events = adapter.events.of(orderid)

    common = {"orderid": orderid, "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10,
              "trigger_price": 0.0, "pricetype": "LIMIT", "product": "MIS", "rejection_reason": ""}
    assert events == [
        {**common, "price": price, "order_status": "open", "filled_quantity": 0, "pending_quantity": 10,
         "average_price": 0.0},
        {**common, "price": price, "order_status": "open", "filled_quantity": 4, "pending_quantity": 6,
         "average_price": price},
        {**common, "price": round(price - 1, 2), "order_status": "open", "filled_quantity": 4, "pending_quantity": 6,
         "average_price": price},
        {**common, "price": round(price - 1, 2), "order_status": "complete", "filled_quantity": 10,
         "pending_quantity": 0, "average_price": round((4 * price + 6 * (price - 1)) / 10, 2)},
    ]
    assert all(tuple(e) == EVENT_FIELDS for e in events)


def test_stop_orders_trigger_pending_triggered_complete_and_cancelled(sandbox, token):
    with following(lambda: token, fast()) as adapter:
        ready(adapter)
        close = limit_price(sandbox, ratio=1.0)
        stop_market = place(token, action="SELL", pricetype="SL-M", trigger_price=round(close * 0.95, 1))
        stop_limit = place(token, action="BUY", pricetype="SL", trigger_price=round(close * 1.03, 1),
                           price=round(close * 1.04, 1))
        adapter.events.wait(stop_market, "trigger pending")
        adapter.events.wait(stop_limit, "trigger pending")
        sandbox.trigger(stop_market)  # a stop-market order fills at once
        adapter.events.wait(stop_market, "complete")
        sandbox.state.market.set_ltp("3045", round(close * 1.07, 1), "NSE")  # through the trigger, above the limit: it rests
        adapter.events.wait(stop_limit, "open")
        response, status = order_api.cancel_order(stop_limit, token)
        assert status == 200, response
        adapter.events.wait(stop_limit, "cancelled")

    assert adapter.events.states(stop_market) == [("trigger pending", 0), ("open", 0), ("complete", 10)]
    assert adapter.events.states(stop_limit) == [("trigger pending", 0), ("open", 0), ("cancelled", 0)]
    cancelled = adapter.events.of(stop_limit)[-1]
    assert (cancelled["pricetype"], cancelled["pending_quantity"], cancelled["rejection_reason"]) == ("SL", 0, "")


def test_rejections_carry_mstocks_reason(sandbox, token):
    with following(lambda: token, fast()) as adapter:
        ready(adapter)
        price = limit_price(sandbox)
        sandbox.reject_orders("exchange", quantity=7, reason="EXCH:16388:Order price is out of the price band")
        by_exchange = place(token, quantity=7, price=price)
        sandbox.reject_orders("rms", quantity=13, reason="Margin exceeds")
        response, body, no_id = order_api.place_order_api(
            {"apikey": "oa", "strategy": "e2e", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 13,
             "pricetype": "LIMIT", "product": "MIS", "price": price, "trigger_price": 0, "disclosed_quantity": 0}, token)
        assert no_id is None and body["status"] == "error" and "margin exceeds" in body["message"].lower()
        rms = next(o.orderid for o in sandbox.state.orders() if o.quantity == 13)
        exchange_event = adapter.events.wait(by_exchange, "rejected")
        rms_event = adapter.events.wait(rms, "rejected")

    assert exchange_event["rejection_reason"] == "Order price is out of the price band (exchange code 16388)"
    assert "margin exceeds" in rms_event["rejection_reason"].lower()
    assert (rms_event["quantity"], rms_event["filled_quantity"], rms_event["pending_quantity"]) == (13, 0, 0)
    assert adapter.events.states(by_exchange) == [("rejected", 0)]


def test_derivatives_are_named_the_openalgo_way(sandbox, token):
    rows = [r for r in host.symbols().search("NIFTY", "NFO", limit=500) if r.instrumenttype == "FUT"]
    future = sorted(rows, key=lambda r: r.symbol)[0]
    with following(lambda: token, fast()) as adapter:
        ready(adapter)
        orderid = place(token, symbol=future.symbol, exchange="NFO", quantity=future.lotsize, pricetype="MARKET",
                        product="NRML")
        event = adapter.events.wait(orderid, "complete")
    assert (event["symbol"], event["exchange"], event["product"]) == (future.symbol, "NFO", "NRML")
    assert sandbox.state.order(orderid).exchange == "NFO"


def test_legacy_frames_are_read_too(tmp_path, monkeypatch, isolated_environment):
    with running_sandbox(order_frame_shape="legacy") as server:
        for name, value in server.env(tmp_path / "legacy").items():
            monkeypatch.setenv(name, value)
        token = server.issue_session().access_token
        store_sbin()
        # Only push can deliver it: the book is read once at the start and then every 60 s.
        with following(lambda: token, fast(poll_interval=60, backstop_interval=60)) as adapter:
            ready(adapter)
            orderid = place(token, pricetype="MARKET")
            adapter.events.wait(orderid, "complete")
    assert adapter.events.states(orderid) == [("open", 0), ("complete", 10)]


# --------------------------------------------------------------------------- disconnections


def test_a_disconnect_between_two_state_changes_loses_and_repeats_nothing(sandbox, token):
    """Order A changes while the socket is down; order B changed before: A's change arrives
    once after reconnecting (from the book), B's is not repeated."""
    gate = Gate(token)
    # Book reads only at start, after reconnecting and every 60 s: the reconnection read
    # alone must bring what happened during the outage.
    with following(gate, fast(poll_interval=60, backstop_interval=60)) as adapter:
        ready(adapter)
        price = limit_price(sandbox)
        a = place(token, price=price)
        b = place(token, price=price)
        adapter.events.wait(a, "open")
        adapter.events.wait(b, "open")
        sandbox.fill(b)
        adapter.events.wait(b, "complete")

        gate.close()  # hold back the reconnection
        assert sandbox.feed.drop_all_connections() == 1
        assert wait_until(lambda: adapter.status()["feed"] != READY and sandbox.feed.connection_count == 0)
        sandbox.fill(a, quantity=3)
        sandbox.fill(a)
        assert sandbox.state.order(a).status == "Traded"
        assert adapter.events.states(a) == [("open", 0)]  # nothing can have arrived yet

        gate.open()
        adapter.events.wait(a, "complete")
        assert wait_until(lambda: adapter.connected)
        adapter.read_book()  # a further read publishes nothing
        all_events = list(adapter.events.items)

    assert [(e["orderid"], e["order_status"], e["filled_quantity"]) for e in all_events] == [
        (a, "open", 0), (b, "open", 0), (b, "complete", 10), (a, "complete", 10)]
    assert all_events[-1]["average_price"] == price


def test_while_the_socket_is_down_the_book_is_followed(sandbox, token):
    gate = Gate(token)
    with following(gate, fast(poll_interval=0.2, backstop_interval=60)) as adapter:
        ready(adapter)
        orderid = place(token, price=limit_price(sandbox))
        adapter.events.wait(orderid, "open")
        gate.close()
        sandbox.feed.drop_all_connections()
        assert wait_until(lambda: sandbox.feed.connection_count == 0)
        sandbox.fill(orderid)
        adapter.events.wait(orderid, "complete")  # by polling: the socket is still held back
        assert sandbox.feed.connection_count == 0
        gate.open()
        assert wait_until(lambda: adapter.connected and sandbox.feed.connection_count == 1)
        adapter.read_book()
    assert adapter.events.states(orderid) == [("open", 0), ("complete", 10)]


# --------------------------------------------------------------------------- one socket per session


@pytest.fixture
def one_socket(request, tmp_path, monkeypatch, isolated_environment) -> Iterator[tuple[Any, str]]:
    """A sandbox that keeps one feed socket per access token (policy from the test's param)."""
    with running_sandbox(feed_max_sockets=1, feed_socket_policy=request.param) as server:
        for name, value in server.env(tmp_path / "one").items():
            monkeypatch.setenv(name, value)
        token = server.issue_session().access_token
        store_sbin()
        yield server, token


def fallback_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "following the order book every" in r.getMessage()]


@pytest.mark.parametrize("one_socket", ["refuse"], indirect=True)
def test_refused_second_socket_falls_back_to_polling_and_leaves_market_data_alone(one_socket, caplog):
    server, token = one_socket
    market_data = FeedListener(server, token)  # OpenAlgo's market-data socket, connected first
    caplog.set_level(logging.INFO)
    try:
        with following(lambda: token, fast(poll_interval=0.2)) as adapter:
            assert wait_until(lambda: adapter.mode == POLLING, 10), adapter.status()
            orderid = place(token, price=limit_price(server))
            adapter.events.wait(orderid, "open")
            server.fill(orderid)
            adapter.events.wait(orderid, "complete")
            market_data.wait_texts(3)  # the market-data socket got the frames all along
            status = adapter.status()
        assert market_data.closed is None and server.feed.evicted_sockets == 0
        assert server.feed.refused_sockets == 2
    finally:
        market_data.close()
    assert adapter.events.states(orderid) == [("open", 0), ("complete", 10)]
    assert status["mode"] == POLLING and "refused a second socket" in status["reason"]
    lines = fallback_lines(caplog)
    assert len(lines) == 1 and "HTTP 429" in lines[0] and "Market data is not affected" in lines[0]


@pytest.mark.parametrize("one_socket", ["refuse"], indirect=True)
def test_probe_finds_a_one_socket_server_before_market_data_connects(one_socket, caplog):
    server, token = one_socket
    caplog.set_level(logging.INFO)
    with following(lambda: token, fast()) as adapter:
        assert wait_until(lambda: adapter.mode == POLLING, 10), adapter.status()
        assert wait_until(lambda: server.feed.connections_for(token) == 0)
        market_data = FeedListener(server, token)  # the slot is free for market data
        market_data.close()
    assert "refused one more socket" in fallback_lines(caplog)[0]


@pytest.mark.parametrize("one_socket", ["evict"], indirect=True)
def test_evicting_server_the_order_socket_gives_way_to_market_data(one_socket, caplog):
    server, token = one_socket
    caplog.set_level(logging.INFO)
    market_data = FeedClient(lambda: token, on_ticks=lambda ticks: None, options=FAST_FEED).start()
    try:
        assert market_data.wait_for_state(READY, timeout=5)
        # The live probe delay: market data takes its slot back long before the probe is due.
        with following(lambda: token, fast(poll_interval=0.2, probe_delay=OrderUpdateOptions.probe_delay)) as adapter:
            assert wait_until(lambda: adapter.mode == POLLING, 10), adapter.status()
            assert market_data.wait_for_state(READY, timeout=5)
            evicted = server.feed.evicted_sockets
            orderid = place(token, pricetype="MARKET")
            adapter.events.wait(orderid, "complete")
            assert server.feed.connections_for(token) == 1 and server.feed.evicted_sockets == evicted
            assert market_data.state == READY
    finally:
        market_data.stop()
    assert len(fallback_lines(caplog)) == 1
    assert adapter.events.states(orderid) == [("complete", 10)]  # a market order fills between two reads


@pytest.mark.parametrize("one_socket", ["evict"], indirect=True)
def test_the_probe_waits_until_market_data_has_taken_its_slot_back(one_socket):
    # Market data reconnects 0.75-1.5 s after the order socket displaced it. A probe sent
    # in that gap (as one sent right after the first book read was) opens a socket of its
    # own: a fourth LOGIN, and on a live server one more eviction of market data.
    server, token = one_socket
    slow_retry = dataclasses.replace(FAST_FEED, backoff_initial=1.5, backoff_max=1.5)
    market_data = FeedClient(lambda: token, on_ticks=lambda ticks: None, options=slow_retry).start()
    try:
        assert market_data.wait_for_state(READY, timeout=5)
        with following(lambda: token, fast(probe_delay=5.0)) as adapter:
            assert wait_until(lambda: adapter.mode == POLLING, 10), adapter.status()
            assert market_data.wait_for_state(READY, timeout=5)
            assert wait_until(lambda: server.feed.logins >= 3)
            status = adapter.status()
        assert server.feed.logins == 3 and server.feed.evicted_sockets == 2
    finally:
        market_data.stop()
    assert status["second_socket_checked"] is False and "closed the order-update socket (code 1008)" in status["reason"]


def test_a_server_that_keeps_two_sockets_keeps_push(tmp_path, monkeypatch, isolated_environment):
    with running_sandbox(feed_max_sockets=2, feed_socket_policy="refuse") as server:
        for name, value in server.env(tmp_path / "two").items():
            monkeypatch.setenv(name, value)
        token = server.issue_session().access_token
        store_sbin()
        with following(lambda: token, fast()) as adapter:
            ready(adapter)
            assert adapter.mode == PUSH
            assert wait_until(lambda: server.feed.connections_for(token) == 1)


def test_poll_mode_opens_no_socket(sandbox, token):
    with following(lambda: token, fast(), polling_only=True) as adapter:
        assert wait_until(lambda: adapter.ledger.seeded)
        orderid = place(token, pricetype="MARKET")
        adapter.events.wait(orderid, "complete")
        assert sandbox.feed.connection_count == 0 and adapter.mode == POLLING
    assert adapter.events.states(orderid) == [("complete", 10)]


def test_a_refused_session_stops_the_book_reads_until_a_new_login(sandbox, token, caplog):
    current = {"token": token}
    caplog.set_level(logging.INFO)
    with following(lambda: current["token"], fast(poll_interval=60, backstop_interval=60)) as adapter:
        ready(adapter)
        sandbox.expire_sessions()
        reads = len([x for x in sandbox.session_log() if " orders.list " in x])
        adapter.read_book()
        adapter.read_book()
        after = len([x for x in sandbox.session_log() if " orders.list " in x])
        assert after == reads + 1  # the refused session is not asked again
        current["token"] = sandbox.issue_session().access_token
        orderid = place(current["token"], pricetype="MARKET")
        adapter.read_book()
        adapter.events.wait(orderid, "complete")
    refused = [r.getMessage() for r in caplog.records if "refused the session" in r.getMessage()]
    assert len(refused) == 1
