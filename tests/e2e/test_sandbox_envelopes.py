"""Every envelope quirk of spec 1.4 leaves the sandbox as documented and the client normalises it."""

from __future__ import annotations

import json

import pytest
import requests

from broker.mstock.errors import InputRejected

from .conftest import off_ltp, pin_price

pytestmark = pytest.mark.e2e

SBIN_LIMIT = {
    "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
    "transactiontype": "BUY", "ordertype": "LIMIT", "quantity": "1", "producttype": "INTRADAY",
    "duration": "DAY", "price": "0", "triggerprice": "0", "squareoff": "0", "stoploss": "0",
    "trailingStopLoss": "", "disclosedquantity": "0", "ordertag": "env1",
}


@pytest.fixture
def sbin_limit(sandbox):
    """A resting BUY LIMIT 3 % under the (pinned) LTP."""
    return {**SBIN_LIMIT, "price": off_ltp(pin_price(sandbox, "3045"), -0.03)}


def _raw(sandbox, token, method, path, body=None):
    headers = {"X-Mirae-Version": "1", "X-PrivateKey": sandbox.account.api_key, "Authorization": f"Bearer {token}"}
    return requests.request(method, f"{sandbox.base_url}/openapi/typeb{path}", json=body, headers=headers, timeout=5)


def test_place_order_answer_is_list_wrapped_and_unwrapped_by_the_client(sandbox, sandbox_token, sandbox_client, sbin_limit):
    raw = _raw(sandbox, sandbox_token, "POST", "/orders/regular", sbin_limit).json()
    assert isinstance(raw, list) and raw[0]["status"] == "true"

    data = sandbox_client.call("orders.place", json=sbin_limit)
    assert data["script"] == "SBIN-EQ" and data["orderid"].isdigit() and len(data["orderid"]) in (13, 14)


def test_modified_order_id_keeps_its_leading_space(sandbox_client, sbin_limit):
    orderid = sandbox_client.call("orders.place", json=sbin_limit)["orderid"]
    body = {**sbin_limit, "orderid": orderid, "price": off_ltp(float(sbin_limit["price"]), 0.001), "modqty_remng": "0"}

    data = sandbox_client.call("orders.modify", path={"orderid": orderid}, json=body)

    assert data["orderid"] == f" {orderid}"


def test_funds_use_a_boolean_status_and_a_one_row_list(sandbox, sandbox_token, sandbox_client):
    raw = _raw(sandbox, sandbox_token, "GET", "/user/fundsummary").json()
    assert raw["status"] is True

    rows = sandbox_client.call("user.funds")
    assert len(rows) == 1 and rows[0]["AVAILABLE_BALANCE"] == "1000000.00"


def test_cancel_all_success_word_and_input_exception_when_nothing_is_open(sandbox, sandbox_token, sandbox_client, sbin_limit):
    orderid = sandbox_client.call("orders.place", json=sbin_limit)["orderid"]
    raw = _raw(sandbox, sandbox_token, "POST", "/orders/cancelall").json()
    assert raw == {"status": "success", "data": {"order_id": orderid}}

    with pytest.raises(InputRejected) as caught:
        sandbox_client.call("orders.cancel_all")
    assert caught.value.code == "InputException"
    assert caught.value.message.startswith("Order Does not Exsist")


def test_margins_without_orders_is_problem_details(sandbox, sandbox_token, sandbox_client):
    raw = _raw(sandbox, sandbox_token, "POST", "/margins/orders", {})
    assert raw.status_code == 400
    assert raw.json()["title"] == "One or more validation errors occurred."
    assert raw.json()["errors"] == {"orders": ["The orders field is required."]}

    with pytest.raises(InputRejected) as caught:
        sandbox_client.call("margins.orders", json={})
    assert "orders" in caught.value.message


def test_margin_of_equity_delivery_is_the_full_value(sandbox_client):
    leg = {"product_type": "DELIVERY", "transaction_type": "BUY", "quantity": "5", "price": "2250",
           "exchange": "NSE", "symbol_name": "ACC", "token": "22", "trigger_price": 0}

    data = sandbox_client.call("margins.orders", json={"orders": [leg]})

    assert data["summary"]["total_charges"] == 11250  # spec 7's sample
    assert [c["total_charges"] for c in data["charges"]] == [11250]


def test_invalid_json_body_is_problem_details(sandbox, sandbox_token):
    headers = {"X-Mirae-Version": "1", "X-PrivateKey": sandbox.account.api_key,
               "Authorization": f"Bearer {sandbox_token}", "Content-Type": "application/json"}
    response = requests.post(f"{sandbox.base_url}/openapi/typeb/orders/regular", data=b"{not json", headers=headers, timeout=5)
    assert response.status_code == 400 and "errors" in response.json()


def test_scrip_master_is_a_bare_array(sandbox, sandbox_client):
    rows = json.loads(sandbox_client.fetch_bytes("market.scrip_master"))

    assert len(rows) == len(sandbox.state.rows)
    assert {"token": "3045", "name": "SBIN-EQ", "exch_seg": "NSE"}.items() <= rows[0].items() or any(
        r["token"] == "3045" and r["name"] == "SBIN-EQ" for r in rows
    )


def test_empty_books_answer_null_data(sandbox_client):
    assert sandbox_client.call("orders.list") is None
    assert sandbox_client.call("portfolio.positions") is None
    assert sandbox_client.call("orders.trades") is None


def test_order_details_accepts_get_with_body_and_post(sandbox, sandbox_token, sandbox_client, sbin_limit):
    orderid = sandbox_client.call("orders.place", json=sbin_limit)["orderid"]
    for method in ("GET", "POST"):
        raw = _raw(sandbox, sandbox_token, method, "/order/details", {"order_no": orderid, "segment": "E"}).json()
        assert raw["data"][0]["orderid"] == orderid and raw["data"][0]["price"] == float(sbin_limit["price"])


def test_paths_are_case_insensitive_and_unknown_paths_are_ia404(sandbox, sandbox_token):
    assert _raw(sandbox, sandbox_token, "GET", "/Portfolio/Holdings").json()["status"] == "true"
    missing = _raw(sandbox, sandbox_token, "GET", "/no/such/thing")
    assert (missing.status_code, missing.json()["errorcode"]) == (404, "IA404")
