"""Whatever the host passes, every OpenAlgo-facing function answers in OpenAlgo's shape (issue 11 item 5).

A catalogue of malformed inputs (``None``, wrong types, missing keys, wrong value types)
goes through every face of ``api/``. Each answers with its contract's error shape and a
message naming what was wrong (functions whose contract is to raise raise our typed
error), and nothing is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from broker.mstock.api import auth_api, funds, margin_api, order_api
from broker.mstock.api.data import BrokerData
from broker.mstock.errors import MStockError

from ..helpers import ACCESS_TOKEN

GOOD_ORDER = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, "pricetype": "MARKET",
              "product": "MIS", "position_size": 1, "orderid": "1191241106101"}

# Things that are not a dict at all.
NOT_A_DICT: list[Any] = [None, [], ["SBIN"], "not a dict", 42, 3.5, True, ("a", "b"), b"bytes", object()]
# Dicts with missing keys or values of the wrong type.
BAD_DICTS: list[Any] = [
    {},
    {"symbol": None, "exchange": None},
    {"symbol": ["SBIN"], "exchange": {"a": 1}, "action": object(), "quantity": [1], "price": {"p": 1}},
    {**GOOD_ORDER, "quantity": "ten"},
    {**GOOD_ORDER, "quantity": None, "position_size": None},
    {**GOOD_ORDER, "position_size": [1], "orderid": ["1"], "quantity": []},
    {**GOOD_ORDER, "action": 1},
    {**GOOD_ORDER, "price": "", "pricetype": "LIMIT"},
]
BAD_AUTH: list[Any] = [5, 3.5, {"token": "x"}, ["x"], b"token", object()]


def is_error_message(message: Any) -> bool:
    return isinstance(message, str) and len(message) > 10 and "Traceback" not in message


def check_order_tuple(result: Any) -> None:
    res, body, orderid = result
    assert res.status != 200 and orderid is None
    assert body["status"] == "error" and is_error_message(body["message"])


def check_dict_status(result: Any) -> None:
    body, status = result
    assert status != 200 and body["status"] == "error" and is_error_message(body["message"])


def check_error_dict(result: Any) -> None:
    assert result["status"] == "error" and is_error_message(result["message"])


CASES: list[tuple[str, Any, Any]] = []
for bad in NOT_A_DICT + BAD_DICTS:
    CASES += [
        ("place_order_api", lambda d=bad: order_api.place_order_api(d, ACCESS_TOKEN), check_order_tuple),
        ("place_smartorder_api", lambda d=bad: order_api.place_smartorder_api(d, ACCESS_TOKEN), check_order_tuple),
        ("modify_order", lambda d=bad: order_api.modify_order(d, ACCESS_TOKEN), check_dict_status),
    ]
for bad in NOT_A_DICT[1:] + [{"positions": 1}, [None], [1], ["x"], [{}], [{"symbol": ["A"], "quantity": {}}]]:
    CASES.append(("calculate_margin_api", lambda p=bad: margin_api.calculate_margin_api(p, ACCESS_TOKEN),
                  lambda r: (r[0].status != 200 and check_error_dict(r[1]))))
for bad in [None, [], ["1"], {"id": 1}, 3.5, object(), ""]:
    CASES.append(("cancel_order", lambda o=bad: order_api.cancel_order(o, ACCESS_TOKEN), check_dict_status))
for auth in BAD_AUTH:
    CASES += [
        ("place_order_api", lambda a=auth: order_api.place_order_api(dict(GOOD_ORDER), a), check_order_tuple),
        ("place_smartorder_api", lambda a=auth: order_api.place_smartorder_api(dict(GOOD_ORDER), a), check_order_tuple),
        ("modify_order", lambda a=auth: order_api.modify_order(dict(GOOD_ORDER), a), check_dict_status),
        ("cancel_order", lambda a=auth: order_api.cancel_order("1191241106101", a), check_dict_status),
        ("close_all_positions", lambda a=auth: order_api.close_all_positions("key", a), check_dict_status),
        ("get_order_book", lambda a=auth: order_api.get_order_book(a), check_error_dict),
        ("get_trade_book", lambda a=auth: order_api.get_trade_book(a), check_error_dict),
        ("get_positions", lambda a=auth: order_api.get_positions(a), check_error_dict),
        ("get_holdings", lambda a=auth: order_api.get_holdings(a), check_error_dict),
        ("get_margin_data", lambda a=auth: funds.get_margin_data(a), lambda r: r == {} or pytest.fail(repr(r))),
        ("test_auth_token", lambda a=auth: funds.test_auth_token(a),
         lambda r: (r[0] is False and is_error_message(r[1])) or pytest.fail(repr(r))),
        ("calculate_margin_api", lambda a=auth: margin_api.calculate_margin_api([dict(GOOD_ORDER)], a),
         lambda r: (r[0].status != 200 and check_error_dict(r[1]))),
        ("logout", lambda a=auth: auth_api.logout(a),
         lambda r: (r[0] is False and is_error_message(r[1])) or pytest.fail(repr(r))),
    ]
for bad in NOT_A_DICT:
    CASES += [
        ("authenticate_with_totp", lambda b=bad: auth_api.authenticate_with_totp(b, b),
         lambda r: (r[:2] == (None, None) and is_error_message(r[2])) or pytest.fail(repr(r))),
        ("verify_otp", lambda b=bad: auth_api.verify_otp(b, b),
         lambda r: (r[:2] == (None, None) and is_error_message(r[2])) or pytest.fail(repr(r))),
    ]


@pytest.mark.parametrize(("name", "call", "check"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_face_answers_malformed_input_in_its_own_shape(mock_api, symbols, name, call, check):
    check(call())
    assert len(mock_api.calls) == 0


RAISING: list[tuple[str, Any]] = []
for bad in [b for b in NOT_A_DICT if not isinstance(b, str)]:  # any text is a symbol or token worth asking about
    RAISING += [
        ("get_open_position", lambda b=bad: order_api.get_open_position(b, b, b, ACCESS_TOKEN)),
        ("get_open_position", lambda b=bad: order_api.get_open_position("SBIN", "NSE", "MIS", b if b else 5)),
        ("cancel_all_orders_api", lambda b=bad: order_api.cancel_all_orders_api(b, b if b else 5)),
        ("get_quotes", lambda b=bad: BrokerData(ACCESS_TOKEN).get_quotes(b, b)),
        ("get_depth", lambda b=bad: BrokerData(ACCESS_TOKEN).get_depth(b, "NSE")),
        ("get_history", lambda b=bad: BrokerData(ACCESS_TOKEN).get_history(b, "NSE", b, b, b)),
        ("get_history", lambda b=bad: BrokerData(ACCESS_TOKEN).get_history("SBIN", "NSE", "D", b, "2025-01-02")),
        ("get_multiquotes", lambda b=bad: BrokerData(ACCESS_TOKEN).get_multiquotes(b)),
        ("get_multiquotes", lambda b=bad: BrokerData(ACCESS_TOKEN).get_multiquotes([b])),
        ("BrokerData", lambda b=bad: BrokerData(b if b else 5).get_quotes("SBIN", "NSE")),
    ]


@pytest.mark.parametrize(("name", "call"), RAISING, ids=[f"{c[0]}-{i}" for i, c in enumerate(RAISING)])
def test_functions_whose_contract_is_to_raise_raise_a_specific_typed_error(mock_api, symbols, name, call):
    try:
        result = call()
    except MStockError as exc:
        assert is_error_message(str(exc))
    else:
        # get_multiquotes answers per symbol: a malformed entry is an error entry, not a quote
        assert name == "get_multiquotes" and all("error" in item for item in result)
    assert len(mock_api.calls) == 0


def test_a_missing_argument_is_an_error_in_the_contract_shape(mock_api):
    res, body, orderid = order_api.place_order_api(dict(GOOD_ORDER))  # type: ignore[call-arg]
    assert (res.status, orderid) == (400, None)
    assert body["message"] == "place_order_api: missing a required argument: 'auth'"


def test_messages_name_the_argument_and_what_it_must_be(mock_api):
    assert order_api.place_order_api(None, ACCESS_TOKEN)[1]["message"] == (
        "place_order_api: data must be a dict, got None"
    )
    assert order_api.get_order_book({"token": "secret-value"})["message"] == (
        "get_order_book: auth must be text (the mStock access token) or None, got dict"
    )
    assert margin_api.calculate_margin_api([None], ACCESS_TOKEN)[1]["message"] == (
        "calculate_margin_api: item 1 of positions must be a dict, got None"
    )
    assert auth_api.verify_otp("12ab34", "697c39bf-9411-46b0-81c2-67448ee99c72")[2] == (
        "the OTP must be the numeric code mStock sent (digits only)"
    )
