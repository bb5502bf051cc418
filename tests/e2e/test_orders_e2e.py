"""End to end: OpenAlgo's order functions against the embedded mStock sandbox over loopback.

Real HTTP, the real client and rate limiter, the real symbol table (downloaded from the
sandbox's master), the sandbox's OMS (``sandbox`` fixture of ``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import threading
from decimal import ROUND_HALF_UP, Decimal

import pyotp
import pytest

from broker.mstock import host
from broker.mstock.api import auth_api, order_api
from broker.mstock.database.master_contract_db import refresh_master
from broker.mstock.mapping import order_data
from broker.mstock.orders import positions, reconcile
from broker.mstock.records import SymbolRecord
from broker.mstock.transport import ratelimit

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(sandbox):
    return sandbox


@pytest.fixture
def auth(server, monkeypatch) -> str:
    """A session token on a fresh sandbox day, with the sandbox's master in the symbol table."""
    # The documented limits (spec 2.1) on both sides, as in production.
    ratelimit.set_default_limiter(ratelimit.RateLimiter())
    server.set_rate_limits(True)
    monkeypatch.setattr(reconcile, "RECONCILE_DELAYS", (0.05, 0.1, 0.2))
    positions.reset_for_tests()
    token = server.issue_session().access_token
    refresh_master(token)
    return token


def instrument(exchange: str, instrumenttype: str, name: str) -> SymbolRecord:
    rows = [r for r in host.symbols().search(name, exchange, limit=500) if r.instrumenttype == instrumenttype]
    assert rows, f"no {instrumenttype} of {name} on {exchange} in the sandbox master"
    return sorted(rows, key=lambda r: r.symbol)[0]


def price_near(server, record: SymbolRecord, ratio: float) -> float:
    """A price ``ratio`` x the previous close on the instrument's tick; the LTP is pinned to
    that close first, because the sandbox's price band (+/-10 %) is around it."""
    market = server.state.market
    close = market.snapshot(record.token, record.brexchange).close
    ltp = Decimal(str(market.set_ltp(record.token, close, record.brexchange).ltp))
    tick = Decimal(str(record.tick_size))
    return float((ltp * Decimal(str(ratio)) / tick).quantize(Decimal(1), ROUND_HALF_UP) * tick)


def order(symbol: str, exchange: str, action: str, quantity: int, **extra) -> dict:
    data = {"apikey": "oa", "strategy": "e2e", "symbol": symbol, "exchange": exchange, "action": action,
            "quantity": quantity, "pricetype": "MARKET", "product": "MIS", "price": 0, "trigger_price": 0,
            "disclosed_quantity": 0}
    data.update(extra)
    return data


def orders_by_id(auth: str) -> dict[str, dict]:
    rows = order_data.transform_order_data(order_data.map_order_data(order_data=order_api.get_order_book(auth)))
    return {row["orderid"]: row for row in rows}


def positions_of(auth: str) -> dict[tuple[str, str, str], dict]:
    rows = order_data.transform_positions_data(order_data.map_position_data(order_api.get_positions(auth)))
    return {(row["symbol"], row["exchange"], row["product"]): row for row in rows}


def test_login_place_market_order_and_read_every_book(server, auth, monkeypatch):
    account = server.account
    token, feed, error = auth_api.authenticate_with_totp(account.password, pyotp.TOTP(account.totp_secret).now())
    assert error is None and token
    res, body, orderid = order_api.place_order_api(order("SBIN", "NSE", "BUY", 5), token)
    assert (res.status, body) == (200, {"status": "success", "orderid": orderid})
    row = orders_by_id(token)[orderid]
    assert (row["symbol"], row["exchange"], row["order_status"], row["filled_quantity"]) == ("SBIN", "NSE", "complete", 5)
    trades = order_data.transform_tradebook_data(order_data.map_trade_data(trade_data=order_api.get_trade_book(token)))
    assert [(t["symbol"], t["orderid"], t["quantity"]) for t in trades] == [("SBIN", orderid, 5)]
    position = positions_of(token)[("SBIN", "NSE", "MIS")]
    assert position["quantity"] == 5 and position["ltp"] > 0
    holdings = order_data.transform_holdings_data(order_data.map_portfolio_data(order_api.get_holdings(token)))
    assert {h["symbol"] for h in holdings} >= {"SBIN", "IDEA", "WIPRO"}
    assert all(h["exchange"] == "NSE" and h["product"] == "CNC" for h in holdings)


def test_rms_rejection_is_an_error_with_a_readable_reason(auth):
    res, body, orderid = order_api.place_order_api(order("SBIN", "NSE", "BUY", 1_000_000, product="CNC"), auth)
    assert (res.status, orderid) == (400, None)
    assert body["message"].startswith("insufficient funds: required ")


def test_limit_order_modify_and_cancel(server, auth):
    sbin = instrument("NSE", "EQ", "SBIN")
    price = price_near(server, sbin, 0.95)
    res, _, orderid = order_api.place_order_api(order("SBIN", "NSE", "BUY", 10, pricetype="LIMIT", price=price), auth)
    assert res.status == 200
    new_price = price_near(server, sbin, 0.94)
    modified = {"symbol": "SBIN", "exchange": "NSE", "orderid": orderid, "action": "BUY", "product": "MIS",
                "pricetype": "LIMIT", "price": new_price, "quantity": 20, "disclosed_quantity": 0, "trigger_price": 0}
    assert order_api.modify_order(modified, auth) == ({"status": "success", "orderid": orderid}, 200)
    row = orders_by_id(auth)[orderid]
    assert (row["quantity"], row["price"], row["order_status"]) == (20, new_price, "open")
    assert order_api.cancel_order(orderid, auth) == ({"status": "success", "orderid": orderid}, 200)
    assert orders_by_id(auth)[orderid]["order_status"] == "cancelled"


def test_stop_order_is_cancelled_with_its_own_variety(server, auth):
    sbin = instrument("NSE", "EQ", "SBIN")
    trigger = price_near(server, sbin, 0.95)
    res, _, orderid = order_api.place_order_api(
        order("SBIN", "NSE", "SELL", 1, pricetype="SL-M", trigger_price=trigger), auth)
    assert res.status == 200
    row = orders_by_id(auth)[orderid]
    assert (row["pricetype"], row["order_status"]) == ("SL-M", "trigger pending")
    assert order_api.cancel_order(orderid, auth) == ({"status": "success", "orderid": orderid}, 200)


def test_dropped_place_response_is_reconciled_without_a_duplicate(server, auth):
    server.faults.inject("orders.place", "drop_response")
    res, body, orderid = order_api.place_order_api(order("SBIN", "NSE", "BUY", 3), auth)
    assert (res.status, body["status"]) == (200, "success")
    book = orders_by_id(auth)
    assert list(book) == [orderid]


def test_dropped_modify_and_cancel_responses_are_reconciled(server, auth):
    sbin = instrument("NSE", "EQ", "SBIN")
    price = price_near(server, sbin, 0.95)
    _, _, orderid = order_api.place_order_api(order("SBIN", "NSE", "BUY", 10, pricetype="LIMIT", price=price), auth)
    server.faults.inject("orders.modify", "drop_response")
    modified = {"symbol": "SBIN", "exchange": "NSE", "orderid": orderid, "action": "BUY", "product": "MIS",
                "pricetype": "LIMIT", "price": price, "quantity": 15, "disclosed_quantity": 0, "trigger_price": 0}
    body, status = order_api.modify_order(modified, auth)
    assert (status, body["status"]) == (200, "success")
    server.faults.inject("orders.cancel", "drop_response")
    body, status = order_api.cancel_order(orderid, auth)
    assert (status, body["status"]) == (200, "success")
    assert orders_by_id(auth)[orderid]["order_status"] == "cancelled"


def test_smart_order_on_a_future_reported_under_nse(server, auth):
    future = instrument("NFO", "FUT", "NIFTY")
    data = order(future.symbol, "NFO", "BUY", future.lotsize, product="NRML", position_size=2 * future.lotsize)
    res, _, orderid = order_api.place_smartorder_api(data, auth)
    assert res.status == 200 and orderid
    assert positions_of(auth)[(future.symbol, "NFO", "NRML")]["quantity"] == 2 * future.lotsize
    res, body, orderid = order_api.place_smartorder_api(data, auth)
    assert (res, orderid) == (None, None) and "No action needed" in body["message"]
    assert order_api.get_open_position(future.symbol, "NFO", "CARRYFORWARD", auth) == str(2 * future.lotsize)
    flat = {**data, "position_size": 0}
    res, _, _ = order_api.place_smartorder_api(flat, auth)
    assert res.status == 200
    assert positions_of(auth)[(future.symbol, "NFO", "NRML")]["quantity"] == 0


def test_cancel_all_cancels_every_working_order(server, auth):
    sbin = instrument("NSE", "EQ", "SBIN")
    ids = []
    for ratio in (0.95, 0.96, 0.97):
        _, _, oid = order_api.place_order_api(
            order("SBIN", "NSE", "BUY", 1, pricetype="LIMIT", price=price_near(server, sbin, ratio)), auth)
        ids.append(oid)
    _, _, stop = order_api.place_order_api(
        order("SBIN", "NSE", "SELL", 1, pricetype="SL", price=price_near(server, sbin, 0.92),
              trigger_price=price_near(server, sbin, 0.93)), auth)
    _, _, done = order_api.place_order_api(order("SBIN", "NSE", "BUY", 1), auth)
    cancelled, failed = order_api.cancel_all_orders_api({"strategy": "e2e"}, auth)
    assert (sorted(cancelled), failed) == (sorted(ids + [stop]), [])
    book = orders_by_id(auth)
    assert {book[oid]["order_status"] for oid in cancelled} == {"cancelled"}
    assert book[done]["order_status"] == "complete"


def test_close_all_flattens_equity_futures_and_currency(server, auth):
    future = instrument("NFO", "FUT", "NIFTY")
    currency = instrument("CDS", "FUT", "USDINR")
    for data in (
        order("SBIN", "NSE", "BUY", 7),
        order(future.symbol, "NFO", "SELL", future.lotsize, product="NRML"),
        order(currency.symbol, "CDS", "BUY", currency.lotsize, product="NRML"),
    ):
        res, body, _ = order_api.place_order_api(data, auth)
        assert res.status == 200, body
    body, status = order_api.close_all_positions("oa", auth)
    assert (status, body["status"]) == (200, "success"), body
    assert len(body["orders"]) == 3
    assert all(row["quantity"] == 0 for row in positions_of(auth).values())
    assert order_api.close_all_positions("oa", auth) == ({"message": "No Open Positions Found"}, 200)


def test_ten_threads_place_at_once(auth):
    results = []
    go = threading.Barrier(10)

    def leg():
        go.wait()
        results.append(order_api.place_order_api(order("SBIN", "NSE", "BUY", 1), auth))

    threads = [threading.Thread(target=leg) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0].status for r in results] == [200] * 10
    assert sorted(orders_by_id(auth)) == sorted(r[2] for r in results)
