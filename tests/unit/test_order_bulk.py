"""Cancel all and close all: selection, concurrency, and truthful partial failures (D5, D23)."""

from __future__ import annotations

import json
import threading

import pytest
from responses import matchers

from broker.mstock.api import order_api
from broker.mstock.errors import SessionExpired
from broker.mstock.orders import bulk
from broker.mstock.transport.ratelimit import RateLimiter

from ..helpers import ACCESS_TOKEN, add_route, load_fixture, sent_json
from .order_support import PLACED, book, order_row, position_row, positions

pytestmark = pytest.mark.usefixtures("fast_reconcile")

EXPIRED = {"status": "false", "message": "Invalid request. Please try again.", "errorcode": "IA401", "data": None}


def test_cancel_all_cancels_only_open_and_trigger_pending_orders(mock_api, symbols):
    add_route(mock_api, "orders.list", book(
        order_row(orderid="1", status="Pending"),
        order_row(orderid="2", status="Traded"),
        order_row(orderid="3", status="Trigger Pending", ordertype="SL", triggerprice="569.5"),
        order_row(orderid="4", status="Rejected"),
        order_row(orderid="5", status="O-Modified"),
        order_row(orderid="6", status="Cancelled"),
        order_row(orderid="7", status="Transit"),
    ))
    for oid in ("1", "5", "7"):
        add_route(mock_api, "orders.cancel", case="ok", orderid=oid,
                  match=[matchers.json_params_matcher({"variety": "NORMAL", "orderid": oid})])
    add_route(mock_api, "orders.cancel", case="ok", orderid="3",
              match=[matchers.json_params_matcher({"variety": "STOPLOSS", "orderid": "3"})])
    assert order_api.cancel_all_orders_api({"strategy": "s"}, ACCESS_TOKEN) == (["1", "3", "5", "7"], [])


def test_cancel_all_reports_each_failure(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid="1"), order_row(orderid="2"), order_row(orderid="3")))
    add_route(mock_api, "orders.cancel", case="ok", orderid="1")
    add_route(mock_api, "orders.cancel", case="already_cancelled", orderid="2")
    add_route(mock_api, "orders.cancel", case="ok", orderid="3")
    assert order_api.cancel_all_orders_api({}, ACCESS_TOKEN) == (["1", "3"], ["2"])


def test_cancel_all_with_nothing_open(mock_api, symbols):
    add_route(mock_api, "orders.list", case="empty_null")
    assert order_api.cancel_all_orders_api({}, ACCESS_TOKEN) == ([], [])


def test_cancel_all_with_an_unreadable_book_raises_instead_of_reporting_zero(mock_api, symbols):
    add_route(mock_api, "orders.list", EXPIRED, status=401)
    with pytest.raises(SessionExpired):
        order_api.cancel_all_orders_api({}, ACCESS_TOKEN)


def test_cancel_all_runs_requests_concurrently(mock_api, symbols):
    ids = [str(1000 + i) for i in range(8)]
    add_route(mock_api, "orders.list", book(*[order_row(orderid=oid) for oid in ids]))
    barrier = threading.Barrier(4, timeout=5)

    def answer(request):
        barrier.wait()  # only passes when 4 cancels are in flight at once
        return 200, {}, '{"status":"true","message":"SUCCESS","errorcode":"","data":{"orderid":"x"}}'

    for oid in ids:
        mock_api.add_callback("DELETE", f"https://api.mstock.trade/openapi/typeb/orders/regular/{oid}", callback=answer)
    assert order_api.cancel_all_orders_api({}, ACCESS_TOKEN) == (ids, [])


def open_positions():
    return positions(
        # long equity, delivery
        position_row(symboltoken="3045", producttype="DELIVERY", buyqty="50", buyavgprice="2900", netqty="50"),
        # short NIFTY option under NSE/OPTIDX
        position_row(symboltoken="50374", instrumenttype="OPTIDX", producttype="CARRYFORWARD", sellqty="75",
                     sellavgprice="95", netqty="-75"),
        # currency future under NSE/FUTCUR, token shared with TCS: must close USDINR on CDS (D5)
        position_row(symboltoken="11536", instrumenttype="FUTCUR", producttype="CARRYFORWARD", buyqty="3",
                     buyavgprice="88.25", netqty="3"),
        # flat: nothing to do
        position_row(symboltoken="22", buyqty="10", sellqty="10", netqty="0"),
    )


def sent_orders(mock_api) -> list[dict]:
    bodies = [sent_json(c) for c in mock_api.calls if c.request.method == "POST" and c.request.url.endswith("/orders/regular")]
    return sorted(({k: b[k] for k in ("tradingsymbol", "symboltoken", "exchange", "transactiontype", "quantity",
                                       "producttype", "ordertype", "variety")} for b in bodies),
                  key=lambda b: b["tradingsymbol"])


@pytest.fixture
def empty_book(mock_api):
    add_route(mock_api, "orders.list", case="empty_null")


def test_close_all_places_an_opposite_market_order_per_open_position(mock_api, symbols, empty_book):
    add_route(mock_api, "portfolio.positions", open_positions())
    add_route(mock_api, "orders.place", PLACED)
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert (status, body["status"]) == (200, "success")
    assert body["message"] == "All Open Positions Squared Off (3 orders placed)"
    assert sent_orders(mock_api) == [
        {"tradingsymbol": "NIFTY24N0724000CE", "symboltoken": "50374", "exchange": "NFO", "transactiontype": "BUY",
         "quantity": "75", "producttype": "CARRYFORWARD", "ordertype": "MARKET", "variety": "NORMAL"},
        {"tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE", "transactiontype": "SELL",
         "quantity": "50", "producttype": "DELIVERY", "ordertype": "MARKET", "variety": "NORMAL"},
        {"tradingsymbol": "USDINR25OCTFUT", "symboltoken": "11536", "exchange": "NSE", "transactiontype": "SELL",
         "quantity": "3", "producttype": "CARRYFORWARD", "ordertype": "MARKET", "variety": "NORMAL"},
    ]


def test_close_all_when_flat(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", case="null")
    assert order_api.close_all_positions("oa-key", ACCESS_TOKEN) == ({"message": "No Open Positions Found"}, 200)


def test_close_all_with_an_unreadable_position_book_is_an_error(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", case="expired", status=401)
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert (status, body["status"]) == (401, "error")


def test_close_all_partial_failure_lists_what_failed(mock_api, symbols, empty_book):
    rows = open_positions()
    rows["data"].append(position_row(symboltoken="424242", instrumenttype="FUTSTK", netqty="10"))
    add_route(mock_api, "portfolio.positions", rows)
    add_route(mock_api, "orders.place", load_fixture("orders.place", "rms_reject"),
              match=[matchers.json_params_matcher({"symboltoken": "3045"}, strict_match=False)])
    add_route(mock_api, "orders.place", PLACED)
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert (status, body["status"]) == (400, "error")
    assert body["message"] == (
        "closed 2 of 4 positions; failed: token 424242 (NSE FUTSTK): instrument not in the symbol table; "
        "close it manually; SBIN NSE CNC: insufficient funds: required 572.36, available 0 [RS-0111]"
    )
    assert sorted(o["position"] for o in body["orders"]) == ["NIFTY07NOV2424000CE NFO NRML", "USDINR29OCT25FUT CDS NRML"]


def test_close_all_places_concurrently(mock_api, symbols, empty_book):
    rows = positions(*[position_row(symboltoken=token, netqty="5", buyqty="5", buyavgprice="10")
                       for token in ("3045", "22", "11536", "14366")])
    add_route(mock_api, "portfolio.positions", rows)
    barrier = threading.Barrier(4, timeout=5)

    def answer(request):
        barrier.wait()
        return 200, {}, '[{"status":"true","message":"SUCCESS","errorcode":"","data":{"orderid":"1"}}]'

    mock_api.add_callback("POST", "https://api.mstock.trade/openapi/typeb/orders/regular", callback=answer)
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert (status, len(body["orders"])) == (200, 4)


def test_bulk_writes_pass_the_bulk_pacing(mock_api, symbols, monkeypatch):
    """Bursts are paced with headroom under mStock's 30/s (see orders/bulk.py)."""
    acquired = []

    class Recording(RateLimiter):
        def acquire(self, category, *, max_wait=30.0):
            acquired.append(category.value)
            return 0.0

    monkeypatch.setattr(bulk, "_bulk_pace", lambda: Recording({}))
    add_route(mock_api, "orders.list", book(order_row(orderid="1"), order_row(orderid="2")))
    add_route(mock_api, "orders.cancel", case="ok", orderid="1")
    add_route(mock_api, "orders.cancel", case="ok", orderid="2")
    order_api.cancel_all_orders_api({}, ACCESS_TOKEN)
    assert acquired == ["order", "order"]
    assert bulk.BULK_PACE == (25, 1.2)


def test_close_all_clicked_twice_at_once_closes_each_position_once(mock_api, symbols, empty_book):
    # The second close-all must read the positions after the first one's exit, never the
    # same open position, or it would reverse it with a second exit.
    placed_orders: list[dict] = []
    second_read = threading.Event()
    results: list = []
    second = threading.Thread(target=lambda: results.append(order_api.close_all_positions("oa-key", ACCESS_TOKEN)))

    def positions_answer(request):
        if not placed_orders and not second.is_alive():
            second.start()  # a second click while the first is reading the book
            second_read.wait(timeout=0.2)  # only elapses when the second one is held back
        elif not placed_orders:
            second_read.set()
        net = "0" if placed_orders else "10"
        rows = positions(position_row(symboltoken="3045", buyqty=net, buyavgprice="570", netqty=net))
        return 200, {}, json.dumps(rows)

    def place_answer(request):
        placed_orders.append(json.loads(request.body))
        return 200, {}, '[{"status":"true","message":"SUCCESS","errorcode":"","data":{"orderid":"1"}}]'

    mock_api.add_callback("GET", "https://api.mstock.trade/openapi/typeb/portfolio/positions", callback=positions_answer)
    mock_api.add_callback("POST", "https://api.mstock.trade/openapi/typeb/orders/regular", callback=place_answer)
    first = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    second.join(timeout=5)
    assert [first[1], results[0]] == [200, ({"message": "No Open Positions Found"}, 200)]
    assert [(o["transactiontype"], o["quantity"]) for o in placed_orders] == [("SELL", "10")]


def test_close_all_does_not_resend_exits_that_are_still_working(mock_api, symbols):
    # A second close-all while the first one's MARKET exit has not filled (circuit limit,
    # slow exchange) must not send another: that would reverse the position.
    add_route(mock_api, "portfolio.positions", positions(position_row(symboltoken="3045", buyqty="10", buyavgprice="570", netqty="10")))
    add_route(mock_api, "orders.list", book(order_row(orderid="1", ordertype="MARKET", transactiontype="SELL",
                                                      quantity="10", price="0", status="Pending", orderstatus="Pending")))
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert status == 200
    assert body["message"] == "All Open Positions Squared Off (0 orders placed)"
    assert body["orders"] == [{"position": "SBIN NSE MIS", "orderid": "", "note": "already being closed by a working MARKET order"}]
    assert sent_orders(mock_api) == []


def test_close_all_sends_only_what_working_exits_do_not_cover(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(position_row(symboltoken="3045", buyqty="10", buyavgprice="570", netqty="10")))
    add_route(mock_api, "orders.list", book(
        order_row(orderid="1", ordertype="MARKET", transactiontype="SELL", quantity="6", filledshares="2", price="0"),
        # A resting stop-loss is not an exit in flight: close-all still flattens now.
        order_row(orderid="2", ordertype="STOPLOSS_MARKET", transactiontype="SELL", quantity="10", price="0",
                  triggerprice="550", status="Trigger Pending", orderstatus="Trigger Pending"),
        # A working MARKET order on another product does not cover this position.
        order_row(orderid="3", ordertype="MARKET", transactiontype="SELL", quantity="10", price="0", producttype="DELIVERY"),
    ))
    add_route(mock_api, "orders.place", PLACED)
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert status == 200
    assert [(o["transactiontype"], o["quantity"], o["producttype"]) for o in sent_orders(mock_api)] == [("SELL", "6", "INTRADAY")]


def test_close_all_with_an_unreadable_order_book_sends_nothing(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(position_row(symboltoken="3045", buyqty="10", buyavgprice="570", netqty="10")))
    add_route(mock_api, "orders.list", EXPIRED, status=401)
    body, status = order_api.close_all_positions("oa-key", ACCESS_TOKEN)
    assert (status, body["status"]) == (401, "error")
    assert sent_orders(mock_api) == []
