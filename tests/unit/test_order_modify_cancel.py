"""``modify_order`` and ``cancel_order`` (spec 4.4, 4.5; contract 4.2; D22)."""

from __future__ import annotations

import pytest
import requests
from responses import matchers

from broker.mstock.api import order_api

from ..helpers import ACCESS_TOKEN, add_route, sent_json
from .order_support import book, order_row

pytestmark = pytest.mark.usefixtures("fast_reconcile")

OID = "1191241106101"
MODIFY = {"apikey": "oa", "strategy": "s", "exchange": "NSE", "symbol": "SBIN", "orderid": OID, "action": "buy",
          "product": "MIS", "pricetype": "LIMIT", "price": 571.5, "quantity": 20, "disclosed_quantity": 0,
          "trigger_price": 0}
SL_ORDER = order_row(orderid=OID, ordertype="SL", price="560.00", triggerprice="560.50", transactiontype="SELL",
                     status="Trigger Pending", orderstatus="Trigger Pending")


def writes(mock_api, method: str) -> list:
    return [c for c in mock_api.calls if c.request.method == method]


def test_modify_sends_the_full_body_and_strips_the_returned_id(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.modify", case="ok", orderid=OID)
    assert order_api.modify_order(MODIFY, ACCESS_TOKEN) == ({"status": "success", "orderid": OID}, 200)
    assert sent_json(writes(mock_api, "PUT")[0]) == {
        "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
        "transactiontype": "BUY", "orderid": OID, "ordertype": "LIMIT", "quantity": "20", "producttype": "INTRADAY",
        "duration": "DAY", "price": "571.50", "triggerprice": "0", "disclosedquantity": "0", "modqty_remng": "0",
    }


def test_modify_accepts_the_ui_shapes(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.modify", case="ok", orderid=OID)
    ui = {"orderid": f" {OID} ", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS",
          "pricetype": "LIMIT", "price": "571.5", "quantity": "20", "disclosed_quantity": None, "trigger_price": None}
    assert order_api.modify_order(ui, ACCESS_TOKEN) == ({"status": "success", "orderid": OID}, 200)


def test_modify_rejection_carries_the_broker_reason(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.modify", case="order_closed", orderid=OID)
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert (status, body["message"]) == (400, "Order is Cancelled.Kindly refresh your OrderBook [RS-0034]")


def test_modify_of_an_order_not_in_the_book(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid="999")))
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert (status, body["message"]) == (404, f"order {OID} is not in today's order book")
    assert writes(mock_api, "PUT") == []


def test_modify_of_a_completed_order_is_refused_before_sending(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID, status="Traded", orderstatus="Traded")))
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert (status, body["message"]) == (
        400, f"order {OID} is complete: only open or trigger-pending orders can be modified")
    assert writes(mock_api, "PUT") == []


def test_modify_cannot_switch_the_instrument(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID, symboltoken="22", tradingsymbol="ACC")))
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert status == 400
    assert body["message"] == f"order {OID} is not for SBIN on NSE; a modification cannot change the instrument"


def test_modify_validation_happens_before_sending(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    body, status = order_api.modify_order({**MODIFY, "pricetype": "SL", "trigger_price": 0}, ACCESS_TOKEN)
    assert (status, body["message"]) == (400, "a SL order needs a trigger_price greater than 0")
    assert writes(mock_api, "PUT") == []


def test_modify_lost_answer_confirmed_by_the_book(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.modify", requests.exceptions.ReadTimeout("timed out"), orderid=OID)
    add_route(mock_api, "orders.list", book(order_row(orderid=OID, price="571.50", quantity="20")))
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert (status, body["status"], body["orderid"]) == (200, "success", OID)
    assert len(writes(mock_api, "PUT")) == 1


def test_modify_lost_answer_then_the_book_shows_the_order_rejected(mock_api, symbols):
    # The book shows the requested values, but the order is dead: that is no successful modification.
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.modify", requests.exceptions.ReadTimeout("timed out"), orderid=OID)
    add_route(mock_api, "orders.list", book(order_row(
        orderid=OID, price="571.50", quantity="20", status="Rejected", orderstatus="Rejected",
        text="Price out of circuit limits")))
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert (status, body["status"]) == (400, "error")
    assert body["message"] == (f"order {OID} is now rejected: Price out of circuit limits "
                               "(the answer to the modification was lost)")
    assert len(writes(mock_api, "PUT")) == 1


def test_modify_lost_answer_not_visible_in_the_book(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.modify", requests.exceptions.ReadTimeout("timed out"), orderid=OID)
    body, status = order_api.modify_order(MODIFY, ACCESS_TOKEN)
    assert status == 504
    assert body["message"] == (f"modify outcome unknown for order {OID}: the order book shows status open, "
                               "LIMIT BUY 10, price 570.00; check before retrying")
    assert len(writes(mock_api, "PUT")) == 1


def test_cancel_uses_the_variety_the_order_was_placed_with(mock_api, symbols):
    add_route(mock_api, "orders.list", book(SL_ORDER))
    add_route(mock_api, "orders.cancel", case="ok", orderid=OID,
              match=[matchers.json_params_matcher({"variety": "STOPLOSS", "orderid": OID})])
    assert order_api.cancel_order(OID, ACCESS_TOKEN) == ({"status": "success", "orderid": OID}, 200)


def test_cancel_of_a_normal_order(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.cancel", case="ok", orderid=OID,
              match=[matchers.json_params_matcher({"variety": "NORMAL", "orderid": OID})])
    assert order_api.cancel_order(f" {OID}", ACCESS_TOKEN) == ({"status": "success", "orderid": OID}, 200)


def test_cancel_rejection(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID)))
    add_route(mock_api, "orders.cancel", case="already_cancelled", orderid=OID)
    body, status = order_api.cancel_order(OID, ACCESS_TOKEN)
    assert (status, body["status"]) == (400, "error")
    assert body["message"].startswith("Order is Cancelled.Kindly refresh your OrderBook")


def test_cancel_of_a_cancelled_order_is_not_sent(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID, status="Cancelled", orderstatus="Cancelled")))
    body, status = order_api.cancel_order(OID, ACCESS_TOKEN)
    assert (status, body["message"]) == (
        400, f"order {OID} is cancelled: only open or trigger-pending orders can be cancelled")
    assert writes(mock_api, "DELETE") == []


def test_cancel_when_the_book_cannot_be_read(mock_api, symbols):
    add_route(mock_api, "orders.list", {"status": "false", "message": "Invalid request. Please try again.",
                                        "errorcode": "IA401", "data": None}, status=401)
    body, status = order_api.cancel_order(OID, ACCESS_TOKEN)
    assert (status, body["status"]) == (401, "error")
    assert writes(mock_api, "DELETE") == []


def test_cancel_lost_answer_confirmed_by_the_book(mock_api, symbols):
    add_route(mock_api, "orders.list", book(SL_ORDER))
    add_route(mock_api, "orders.cancel", requests.exceptions.ReadTimeout("timed out"), orderid=OID)
    add_route(mock_api, "orders.list", book({**SL_ORDER, "status": "Cancelled", "orderstatus": "Cancelled"}))
    body, status = order_api.cancel_order(OID, ACCESS_TOKEN)
    assert (status, body["status"], body["orderid"]) == (200, "success", OID)
    assert len(writes(mock_api, "DELETE")) == 1


def test_cancel_lost_answer_but_the_order_filled(mock_api, symbols):
    add_route(mock_api, "orders.list", book(SL_ORDER))
    add_route(mock_api, "orders.cancel", requests.exceptions.ReadTimeout("timed out"), orderid=OID)
    add_route(mock_api, "orders.list", book({**SL_ORDER, "status": "Traded", "orderstatus": "Traded"}))
    body, status = order_api.cancel_order(OID, ACCESS_TOKEN)
    assert (status, body["message"]) == (400, f"order {OID} was not cancelled: it is complete")


def test_cancel_lost_answer_still_open(mock_api, symbols):
    add_route(mock_api, "orders.list", book(SL_ORDER))
    add_route(mock_api, "orders.cancel", requests.exceptions.ReadTimeout("timed out"), orderid=OID)
    body, status = order_api.cancel_order(OID, ACCESS_TOKEN)
    assert status == 504
    assert body["message"].startswith(f"cancel outcome unknown for order {OID}: the order book shows status trigger pending")


def test_modify_refused_with_http_400(mock_api, symbols):
    add_route(mock_api, "orders.list", book(SL_ORDER))
    add_route(mock_api, "orders.modify", case="bad_trigger", status=400, orderid=OID)
    data = {**MODIFY, "action": "SELL", "pricetype": "SL", "price": 560, "trigger_price": 560.5, "quantity": 10}
    body, status = order_api.modify_order(data, ACCESS_TOKEN)
    assert (status, body["message"]) == (400, "Enter valid trigger price. [400]")


def test_modify_cannot_switch_to_an_instrument_sharing_the_token(mock_api, symbols):
    # USDINR's currency future is tagged NSE and shares token 11536 with TCS (D5): the token
    # alone does not say the order is for TCS.
    usdinr = order_row(orderid=OID, symboltoken="11536", tradingsymbol="USDINR-29Oct2025-FUT",
                       instrumenttype="FUTCUR", price="88.0000")
    add_route(mock_api, "orders.list", book(usdinr))
    body, status = order_api.modify_order({**MODIFY, "symbol": "TCS"}, ACCESS_TOKEN)
    assert (status, body["message"]) == (
        400, f"order {OID} is not for TCS on NSE; a modification cannot change the instrument")
    assert writes(mock_api, "PUT") == []


def test_modify_cannot_switch_the_side(mock_api, symbols):
    add_route(mock_api, "orders.list", book(order_row(orderid=OID, transactiontype="BUY")))
    body, status = order_api.modify_order({**MODIFY, "action": "SELL"}, ACCESS_TOKEN)
    assert (status, body["message"]) == (
        400, f"order {OID} is a BUY order; a modification cannot change it to SELL")
    assert writes(mock_api, "PUT") == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"price": -5}, "price cannot be negative"),
        ({"quantity": 0}, "quantity must be a positive whole number"),
        ({"symbol": "NOSUCH"}, "unknown symbol NOSUCH on NSE"),
        ({"pricetype": "SL", "trigger_price": 580}, "trigger_price 580 must not be above the limit price 571.5"),
    ],
)
def test_modify_checks_its_own_input_before_reading_the_order_book(mock_api, symbols, change, reason):
    # A dead session would answer the book read with IA401 and hide the real problem.
    add_route(mock_api, "orders.list", {"status": "false", "message": "Invalid request. Please try again.",
                                        "errorcode": "IA401", "data": None}, status=401)
    body, status = order_api.modify_order({**MODIFY, **change}, ACCESS_TOKEN)
    assert status == 400
    assert reason in body["message"]
    assert len(mock_api.calls) == 0  # nothing was read, nothing was sent
