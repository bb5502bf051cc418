"""``place_order_api``: what is sent, what OpenAlgo gets back, and lost answers (spec 4.3; contract 4.2)."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from responses import matchers

from broker.mstock.api import order_api
from broker.mstock.api.boundary import BrokerResponse
from broker.mstock.clock import IST
from broker.mstock.orders import tags

from ..helpers import ACCESS_TOKEN, add_route, load_fixture, sent_json, url_for
from .order_support import book, order_row

pytestmark = pytest.mark.usefixtures("fast_reconcile")

ORDER = {"apikey": "oa", "strategy": "s", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10,
         "pricetype": "LIMIT", "product": "MIS", "price": 570.05, "trigger_price": 0, "disclosed_quantity": 0}
TAG = "OAM9X2K3QZ1F701XQ2"


def fixed_tag(monkeypatch, tag: str = TAG) -> None:
    monkeypatch.setattr("broker.mstock.orders.placement.new_ordertag", lambda: tag)


def place_calls(mock_api) -> list:
    return [c for c in mock_api.calls if c.request.url.endswith("/orders/regular") and c.request.method == "POST"]


def test_accepted_order_returns_200_and_the_order_id(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", case="ok")
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, body, orderid) == (200, {"status": "success", "orderid": "1191241106101"}, "1191241106101")
    assert isinstance(res, BrokerResponse)
    assert sent_json(mock_api.calls[0]) == {
        "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
        "transactiontype": "BUY", "ordertype": "LIMIT", "quantity": "10", "producttype": "INTRADAY",
        "price": "570.05", "triggerprice": "0", "squareoff": "0", "stoploss": "0", "trailingStopLoss": "",
        "disclosedquantity": "0", "duration": "DAY", "ordertag": TAG,
    }


def test_request_headers(mock_api, symbols):
    add_route(mock_api, "orders.place", case="ok")
    order_api.place_order_api(ORDER, ACCESS_TOKEN)
    headers = mock_api.calls[0].request.headers
    assert headers["X-Mirae-Version"] == "1"
    assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert headers["Content-Type"] == "application/json"


def test_success_shapes_order_id_and_plain_dict(mock_api, symbols):
    add_route(mock_api, "orders.place", case="ok_order_id")
    add_route(mock_api, "orders.place", case="ok_dict")
    first = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    second = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (first[0].status, first[2]) == (200, "1111250206114")
    assert (second[0].status, second[2]) == (200, "1191241106101")


def test_http_200_rms_rejection_is_not_a_success(mock_api, symbols):
    add_route(mock_api, "orders.place", case="rms_reject")
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid) == (400, None)
    assert body == {"status": "error", "message": "insufficient funds: required 572.36, available 0 [RS-0111]",
                    "code": "RS-0111"}


def test_expired_session(mock_api, symbols):
    add_route(mock_api, "orders.place", case="expired", status=401)
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid, body["status"]) == (401, None, "error")


def test_invalid_order_is_never_sent(mock_api, symbols):
    res, body, orderid = order_api.place_order_api({**ORDER, "price": 570.03}, ACCESS_TOKEN)
    assert (res.status, orderid) == (400, None)
    assert body["message"] == "price 570.03 is not on the tick size 0.05 of SBIN on NSE: use 570.00 or 570.05"
    assert len(mock_api.calls) == 0


def test_unknown_symbol_is_never_sent(mock_api, symbols):
    res, body, _ = order_api.place_order_api({**ORDER, "symbol": "NOPE"}, ACCESS_TOKEN)
    assert (res.status, body["message"], len(mock_api.calls)) == (400, "unknown symbol NOPE on NSE", 0)


def test_timeout_is_reconciled_by_tag_without_resending(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", requests.exceptions.ReadTimeout("read timed out"))
    add_route(mock_api, "orders.list", book(order_row(orderid="1191241106999", ordertag="OTHERTAG")))
    add_route(mock_api, "orders.list", book(order_row(orderid="1191241106999", ordertag="OTHERTAG"),
                                            order_row(orderid="1191241107000", ordertag=TAG)))
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid) == (200, "1191241107000")
    assert len(place_calls(mock_api)) == 1


def test_dropped_connection_is_reconciled(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", requests.exceptions.ConnectionError("connection reset by peer"))
    add_route(mock_api, "orders.list", book(order_row(orderid="1191241107000", ordertag=TAG)))
    res, _, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid, len(place_calls(mock_api))) == (200, "1191241107000", 1)


def test_gateway_page_after_place_is_reconciled(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", "<html><title>502 Bad Gateway</title></html>", status=502)
    add_route(mock_api, "orders.list", book(order_row(orderid="1191241107000", ordertag=TAG)))
    res, _, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid, len(place_calls(mock_api))) == (200, "1191241107000", 1)


def test_lost_answer_for_an_order_that_was_rejected(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", requests.exceptions.ReadTimeout("read timed out"))
    add_route(mock_api, "orders.list", book(order_row(
        orderid="1191241107000", ordertag=TAG, status="Rejected", orderstatus="Rejected",
        text="EXCH:16284:The order price is out of the days price range.")))
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid) == (400, None)
    assert body["message"] == (f"order 1191241107000 (tag {TAG}) was rejected: "
                               "The order price is out of the days price range. (exchange code 16284)")


def test_lost_answer_that_cannot_be_settled_is_an_explicit_error(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", requests.exceptions.ReadTimeout("read timed out"))
    add_route(mock_api, "orders.list", book(order_row(orderid="1", ordertag="SOMEONEELSE")))
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid) == (504, None)
    assert body["message"] == f"order state unknown (tag {TAG}): check the order book before retrying"
    assert len(place_calls(mock_api)) == 1


def test_unreadable_book_during_reconciliation_is_reported(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", requests.exceptions.ReadTimeout("read timed out"))
    add_route(mock_api, "orders.list", load_fixture("orders.list", "expired"), status=401)
    res, body, _ = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert res.status == 504
    assert body["message"].startswith(f"order state unknown (tag {TAG}): check the order book before retrying")
    assert "last order-book error" in body["message"]


def test_book_without_tags_is_settled_through_order_details(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    # sent a minute before the book rows' update time (2024-Nov-06 12:42:18)
    monkeypatch.setattr("broker.mstock.orders.placement.now_ist", lambda: datetime(2024, 11, 6, 12, 41, tzinfo=IST))
    add_route(mock_api, "orders.place", requests.exceptions.ReadTimeout("read timed out"))
    add_route(mock_api, "orders.list", book(order_row(orderid="1181250130104"), order_row(orderid="1181250130105")))
    details = load_fixture("orders.details", "ok")
    add_route(mock_api, "orders.details", {**details, "data": [{**details["data"][0], "ordertag": "NOTOURS"}]},
              match=[matchers.json_params_matcher({"order_no": "1181250130104"})])
    add_route(mock_api, "orders.details", details, match=[matchers.json_params_matcher({"order_no": "1181250130105"})])
    res, _, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid, len(place_calls(mock_api))) == (200, "1181250130105", 1)


def test_accepted_without_an_id_is_settled_by_tag(mock_api, symbols, monkeypatch):
    fixed_tag(monkeypatch)
    add_route(mock_api, "orders.place", case="ok_without_id")
    add_route(mock_api, "orders.list", book(order_row(orderid="1191241107001", ordertag=TAG)))
    res, _, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid) == (200, "1191241107001")


def test_never_sent_is_a_plain_network_error(mock_api, symbols):
    add_route(mock_api, "orders.place", requests.exceptions.ConnectTimeout("connect timed out"))
    res, body, orderid = order_api.place_order_api(ORDER, ACCESS_TOKEN)
    assert (res.status, orderid) == (502, None)
    assert "could not connect" in body["message"]
    # nothing reached mStock, so there is nothing to reconcile: no order-book reads
    assert [c.request.url for c in mock_api.calls] == [url_for("orders.place")]


def test_tags_are_short_alphanumeric_and_unique():
    made = {tags.new_ordertag() for _ in range(2000)}
    assert len(made) == 2000
    assert all(len(t) == 18 and t.isalnum() and t.isupper() and tags.is_our_tag(t) for t in made)
