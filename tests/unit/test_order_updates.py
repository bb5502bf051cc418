"""Order updates: frames and book rows as OpenAlgo events, the ledger, the fallback rules, the factory."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime
from typing import Any

import pytest

from broker.mstock import config, host
from broker.mstock.errors import ConfigError, MStockError
from broker.mstock.host import StoredSession
from broker.mstock.streaming import mstock_order_adapter as adapter_module
from broker.mstock.streaming.feed import SessionEnd
from broker.mstock.streaming.mstock_order_adapter import (
    POLLING,
    PUSH,
    OrderUpdateOptions,
    create_mstock_order_adapter,
    order_adapter_class,
)
from broker.mstock.streaming.order_events import (
    EVENT_FIELDS,
    Observation,
    OrderLedger,
    OrderState,
    is_news,
    observe_frame,
    observe_row,
)
from broker.mstock.streaming.protocol import classify_text

from .order_support import load, order_row

# The fields of contract 12's table, as OpenAlgo's OrderUpdateEvent declares them; building
# this dataclass from an event fails on any unknown key, as OpenAlgo's does.
CONTRACT_FIELDS = {
    "orderid": str, "symbol": str, "exchange": str, "action": str, "quantity": int, "price": float,
    "trigger_price": float, "pricetype": str, "product": str, "order_status": str, "filled_quantity": int,
    "pending_quantity": int, "average_price": float, "rejection_reason": str,
}
ContractEvent = dataclasses.make_dataclass(
    "ContractEvent", [(name, kind, dataclasses.field(default=kind())) for name, kind in CONTRACT_FIELDS.items()]
    + [("mode", str, dataclasses.field(default="live")), ("broker", str, dataclasses.field(default=""))]
)


def event(**overrides: Any) -> dict[str, Any]:
    return dict(observe_row(order_row(**overrides), host.symbols()).fields)


# --------------------------------------------------------------------------- conversion


def test_every_book_row_becomes_the_order_books_openalgo_row_minus_its_timestamp(symbols):
    rows = load("orders.list__mixed.json")["data"]
    golden = load("orders.list__mixed.openalgo.json")["orders"]
    events = [dict(observe_row(row, symbols).fields) for row in rows]
    assert events == [{k: v for k, v in row.items() if k != "timestamp"} for row in golden]
    for fields in events:
        assert tuple(fields) == EVENT_FIELDS
        ContractEvent(**fields)  # no unknown key
        assert {k: type(v) for k, v in fields.items()} == CONTRACT_FIELDS


def test_contract_fields_are_exactly_the_event_fields():
    assert EVENT_FIELDS == tuple(CONTRACT_FIELDS)


@pytest.mark.parametrize("raw, status", [
    ("Pending", "open"), ("O-Pending", "open"), ("Transit", "open"), ("O-Modified", "open"),
    ("Trigger Pending", "trigger pending"), ("TRIGGER_PENDING", "trigger pending"), ("Traded", "complete"),
    ("Rejected", "rejected"), ("Cancelled", "cancelled"), ("O-Cancelled", "cancelled"),
])
def test_statuses_are_openalgos_lowercase_words(symbols, raw, status):
    assert event(status=raw, orderstatus=raw)["order_status"] == status


def test_a_partly_filled_order_is_open_with_its_filled_quantity(symbols):
    fields = event(status="Pending", filledshares="4", averageprice="570.05")
    assert (fields["order_status"], fields["filled_quantity"], fields["pending_quantity"], fields["average_price"]) == (
        "open", 4, 6, 570.05)


def test_derivatives_booked_under_nse_are_nfo_with_openalgo_names(symbols):
    fields = event(tradingsymbol="NIFTY24N0724000CE", symboltoken="50374", instrumenttype="OPTIDX",
                   producttype="MARGIN", ordertype="SL-M", triggerprice="95.5", price="0")
    assert {k: fields[k] for k in ("symbol", "exchange", "product", "pricetype", "trigger_price")} == {
        "symbol": "NIFTY07NOV2424000CE", "exchange": "NFO", "product": "NRML", "pricetype": "SL-M",
        "trigger_price": 95.5}


def test_rejection_reason_is_mstocks_text_made_readable_and_only_for_rejections(symbols):
    assert event(status="Rejected", text="EXCH:16284:The order price is out of the days price range.")[
        "rejection_reason"] == "The order price is out of the days price range. (exchange code 16284)"
    assert event(status="Pending", text="CONFIRMED")["rejection_reason"] == ""


def test_numbers_sent_as_json_numbers_or_strings_read_the_same(symbols):
    as_strings = event(price="570.50", quantity="10", filledshares="2")
    as_numbers = event(price=570.5, quantity=10, filledshares=2)
    assert as_strings == as_numbers and as_numbers["price"] == 570.5 and as_numbers["quantity"] == 10


@pytest.mark.parametrize("frame", [
    {"order_status": "order", "orderData": "ROW"},
    {"order_status": "trade", "orderData": "ROW"},
    {"type": "order", "data": "ROW"},
    {"type": "Trade", "data": "ROW"},
])
def test_both_frame_shapes_are_read(symbols, frame):
    row = order_row(status="Traded", filledshares="10", averageprice="571")
    text = json.dumps({k: (row if v == "ROW" else v) for k, v in frame.items()})
    observation = observe_frame(classify_text(text), symbols)
    assert observation.state == OrderState("complete", 10, 10, 570.0, 0.0, "LIMIT")
    assert observation.updated == datetime(2024, 11, 6, 12, 42, 18)


@pytest.mark.parametrize("text", [
    '{"type": "error", "data": "bad request"}', '{"order_status": "order"}', '{"order_status": "order", "orderData": 5}',
    '[1, 2]', "not json", '{"order_status": "order", "orderData": {"status": "Pending"}}',
])
def test_frames_that_are_not_order_events_give_nothing(symbols, text):
    assert observe_frame(classify_text(text), symbols) is None


def test_normalize_is_openalgos_hook_for_one_raw_frame(symbols):
    adapter = order_adapter_class()("u", token_provider=lambda: None)
    text = json.dumps({"order_status": "order", "orderData": order_row()})
    assert adapter.normalize(text) == event()
    assert adapter.normalize(b"\x00\x01binary tick") is None
    assert adapter.normalize('{"type": "error", "data": "x"}') is None
    assert adapter.get_headers() is None


# --------------------------------------------------------------------------- the ledger


def obs(orderid: str = "1", status: str = "open", filled: int = 0, price: float = 100.0, at: int = 0) -> Observation:
    fields = {"orderid": orderid, "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10,
              "price": price, "trigger_price": 0.0, "pricetype": "LIMIT", "product": "MIS", "order_status": status,
              "filled_quantity": filled, "pending_quantity": 10 - filled, "average_price": 0.0,
              "rejection_reason": ""}
    return Observation(fields, datetime(2026, 9, 1, 10, 0, at))


def collect() -> tuple[list[tuple[str, str, int, float]], Any]:
    out: list[tuple[str, str, int, float]] = []
    return out, lambda f: out.append((f["orderid"], f["order_status"], f["filled_quantity"], f["price"]))


def test_the_same_state_is_published_once_whatever_the_source():
    ledger = OrderLedger()
    out, publish = collect()
    ledger.book([], ledger.mark(), publish)  # seeded with an empty day
    assert ledger.push(obs(), publish) is True
    assert ledger.push(obs(), publish) is False  # the trade frame after the order frame
    assert ledger.book([obs()], ledger.mark(), publish) == 0  # the backstop
    assert out == [("1", "open", 0, 100.0)]


def test_fills_modifications_and_final_states_are_news():
    ledger = OrderLedger()
    out, publish = collect()
    for o in (obs(), obs(filled=4, at=1), obs(filled=4, price=99.0, at=2), obs(status="complete", filled=10, price=99.0, at=3)):
        ledger.push(o, publish)
    assert out == [("1", "open", 0, 100.0), ("1", "open", 4, 100.0), ("1", "open", 4, 99.0),
                   ("1", "complete", 10, 99.0)]


def test_nothing_follows_a_final_state_and_fills_never_go_back():
    assert is_news(None, obs().state)
    assert not is_news(obs(status="complete", filled=10).state, obs(status="open", filled=10).state)
    assert not is_news(obs(status="cancelled").state, obs(status="open").state)
    assert not is_news(obs(filled=4).state, obs(filled=0).state)
    assert is_news(obs(status="trigger pending").state, obs(status="open").state)


def test_a_book_read_that_a_newer_push_overtook_is_skipped_for_that_order():
    ledger = OrderLedger()
    out, publish = collect()
    ledger.book([obs("1"), obs("2")], ledger.mark(), publish)  # seed
    since = ledger.mark()  # a book read starts...
    ledger.push(obs("1", status="complete", filled=10, at=5), publish)  # ...a frame arrives meanwhile...
    ledger.push(obs("1", status="complete", filled=10, at=5), publish)
    # ...and the read comes back with order 1 still open, order 2 filled
    ledger.book([obs("1"), obs("2", filled=3, at=4)], since, publish)
    assert out == [("1", "complete", 10, 100.0), ("2", "open", 3, 100.0)]


def test_a_lagging_view_older_than_the_published_one_is_skipped():
    ledger = OrderLedger()
    out, publish = collect()
    ledger.push(obs(price=99.0, at=9), publish)  # modified at :09
    ledger.book([obs(price=100.0, at=3)], ledger.mark(), publish)  # a replica still shows :03
    ledger.book([obs(price=100.0, at=3)], ledger.mark(), publish)
    assert out == [("1", "open", 0, 99.0)]


def test_the_first_book_read_only_records_the_day():
    ledger = OrderLedger()
    out, publish = collect()
    assert ledger.book([obs("1"), obs("2", status="complete", filled=10)], ledger.mark(), publish) == 0
    assert ledger.seeded and out == []
    ledger.book([obs("1", filled=2, at=1), obs("2", status="complete", filled=10), obs("3")], ledger.mark(), publish)
    assert out == [("1", "open", 2, 100.0), ("3", "open", 0, 100.0)]


def test_an_order_pushed_before_the_first_read_is_compared_not_recorded():
    ledger = OrderLedger()
    out, publish = collect()
    ledger.push(obs("1"), publish)
    ledger.book([obs("1", status="complete", filled=10, at=2)], ledger.mark(), publish)
    assert out == [("1", "open", 0, 100.0), ("1", "complete", 10, 100.0)]


# --------------------------------------------------------------------------- when to give up the socket


@pytest.fixture
def pushing():
    adapter = order_adapter_class()("u", token_provider=lambda: None, options=OrderUpdateOptions(poll_interval=3))
    adapter._mode = PUSH  # as after connect(), without a network
    return adapter


def test_two_refused_upgrades_in_a_row_mean_polling(pushing, caplog):
    pushing._on_session_end(SessionEnd(opened=False, http_status=429))
    assert pushing.mode == PUSH
    pushing._on_session_end(SessionEnd(opened=False, http_status=429))
    assert pushing.mode == POLLING and pushing.connected
    pushing._on_session_end(SessionEnd(opened=False, http_status=429))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert lines == ["mStock order updates for u: the feed refused a second socket for this session 2 times "
                     "(HTTP 429); following the order book every 3 s instead. Market data is not affected."]


@pytest.mark.parametrize("end", [
    SessionEnd(opened=False, http_status=401), SessionEnd(opened=False, http_status=403),
    SessionEnd(opened=False, http_status=503), SessionEnd(opened=False, http_status=None),
])
def test_auth_failures_outages_and_server_errors_are_not_refusals(pushing, end):
    for _ in range(5):
        pushing._on_session_end(end)
    assert pushing.mode == PUSH


def test_a_session_between_refusals_resets_the_count(pushing):
    pushing._on_session_end(SessionEnd(opened=False, http_status=429))
    pushing._on_session_end(SessionEnd(opened=True, seconds=300.0))
    pushing._on_session_end(SessionEnd(opened=False, http_status=429))
    assert pushing.mode == PUSH


def test_a_policy_close_means_polling_at_once(pushing):
    pushing._on_session_end(SessionEnd(opened=True, seconds=600.0, close_code=1008))
    assert pushing.mode == POLLING and "code 1008" in pushing.status()["reason"]


def test_two_quick_closes_by_the_server_mean_polling_a_long_session_between_resets(pushing):
    pushing._on_session_end(SessionEnd(opened=True, seconds=0.2, close_code=1000))
    pushing._on_session_end(SessionEnd(opened=True, seconds=900.0, close_code=1000))
    pushing._on_session_end(SessionEnd(opened=True, seconds=0.2, close_code=1000))
    assert pushing.mode == PUSH
    pushing._on_session_end(SessionEnd(opened=True, seconds=0.3, close_code=1001))
    assert pushing.mode == POLLING


def test_dropped_connections_without_a_close_are_not_evictions(pushing):
    for _ in range(5):
        pushing._on_session_end(SessionEnd(opened=True, seconds=0.1, close_code=None))
    assert pushing.mode == PUSH


# --------------------------------------------------------------------------- configuration and factory


def test_modes_and_poll_interval_come_from_the_environment(monkeypatch):
    assert (config.order_updates_mode(), config.order_poll_interval()) == ("auto", 5.0)
    monkeypatch.setenv("MSTOCK_ORDER_UPDATES", "Poll")
    monkeypatch.setenv("ORDER_POLL_INTERVAL", "0.5")
    assert (config.order_updates_mode(), config.order_poll_interval()) == ("poll", 2.0)
    monkeypatch.setenv("ORDER_POLL_INTERVAL", "7")
    assert config.order_poll_interval() == 7.0


@pytest.mark.parametrize("name, value", [("MSTOCK_ORDER_UPDATES", "sometimes"), ("ORDER_POLL_INTERVAL", "fast"),
                                         ("ORDER_POLL_INTERVAL", "inf")])
def test_bad_settings_are_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        config.order_updates_mode() if name == "MSTOCK_ORDER_UPDATES" else config.order_poll_interval()


def test_a_bad_poll_interval_is_reported_once_not_on_every_turn_of_the_watcher(monkeypatch, caplog):
    monkeypatch.setenv("ORDER_POLL_INTERVAL", "fast")
    adapter = order_adapter_class()("u", token_provider=lambda: None, polling_only=True)
    with caplog.at_level(logging.WARNING):
        intervals = [adapter._interval() for _ in range(3)] + [adapter.status()["poll_interval"]]
    assert intervals == [config.DEFAULT_ORDER_POLL_INTERVAL] * 4
    assert [r.getMessage() for r in caplog.records if "ORDER_POLL_INTERVAL" in r.getMessage()] == [
        "ORDER_POLL_INTERVAL='fast' is not a number of seconds; using 5 s"
    ]


@pytest.fixture
def logged_in(monkeypatch):
    monkeypatch.setattr(host, "stored_session", lambda user=None: StoredSession(access_token="tok-" + str(user)))


def test_factory_builds_an_adapter_for_a_logged_in_user(logged_in):
    adapter = create_mstock_order_adapter("alice")
    assert (type(adapter).__name__, adapter.user_id, adapter.broker_name, adapter.polling_only) == (
        "MstockOrderUpdateAdapter", "alice", "mstock", False)
    assert adapter._token_provider() == "tok-alice"


def test_factory_in_poll_mode_builds_a_polling_adapter(logged_in, monkeypatch):
    monkeypatch.setenv("MSTOCK_ORDER_UPDATES", "poll")
    assert create_mstock_order_adapter("alice").polling_only is True


@pytest.mark.parametrize("setting", ["off", "missing key", "no session", "bad mode"])
def test_factory_gives_none_with_a_reason(monkeypatch, caplog, setting):
    monkeypatch.setattr(host, "stored_session", lambda user=None: StoredSession(access_token="tok"))
    if setting == "off":
        monkeypatch.setenv("MSTOCK_ORDER_UPDATES", "off")
    elif setting == "missing key":
        monkeypatch.delenv("BROKER_API_SECRET")
    elif setting == "no session":
        monkeypatch.setattr(host, "stored_session", lambda user=None: None)
    else:
        monkeypatch.setenv("MSTOCK_ORDER_UPDATES", "maybe")
    caplog.set_level(logging.INFO)
    assert create_mstock_order_adapter("alice") is None
    message = caplog.records[-1].getMessage()
    assert {"off": "MSTOCK_ORDER_UPDATES=off", "missing key": "BROKER_API_SECRET", "no session": "no mStock session",
            "bad mode": "MSTOCK_ORDER_UPDATES='maybe'"}[setting] in message


def test_one_class_per_base():
    assert order_adapter_class() is order_adapter_class()
    assert adapter_module.MstockOrderUpdates in order_adapter_class().__mro__


def test_outside_openalgo_the_base_is_the_stand_in():
    adapter = order_adapter_class()("someone", token_provider=lambda: None)
    assert type(adapter).__name__ == "MstockOrderUpdateAdapter"
    assert (adapter.broker_name, adapter.user_id, adapter.connected, adapter.mode) == ("mstock", "someone", False, "stopped")
    with pytest.raises(MStockError):
        adapter.get_ws_url()
