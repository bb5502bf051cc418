"""Absurd values never reach mStock (issue 11 item 3).

Non-finite numbers, quantities above the instrument's freeze quantity (or, where none is
known, above the plugin's documented cap) and prices outside the documented sanity range
are refused before anything is sent, each with a message naming the field and the limit.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from broker.mstock.api import margin_api, order_api
from broker.mstock.errors import ValidationError
from broker.mstock.mapping import transform_data
from broker.mstock.mapping.transform_data import MAX_ORDER_QUANTITY, MAX_PRICE, prepare_modify, prepare_place

from ..helpers import ACCESS_TOKEN

TAG = "OAM9X2K3QZ1F701XQ2"
LIMIT_BUY = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10, "pricetype": "LIMIT",
             "price": 570.05, "product": "MIS"}
NIFTY_FUT = {"symbol": "NIFTY28NOV24FUT", "exchange": "NFO", "action": "SELL", "quantity": 25, "pricetype": "MARKET",
             "product": "NRML"}


class WithFreeze:
    """The store, plus freeze quantities as OpenAlgo's freeze table would give them."""

    def __init__(self, store, freeze: dict[tuple[str, str], int]) -> None:
        self._store = store
        self._freeze = freeze

    def __getattr__(self, name):
        return getattr(self._store, name)

    def freeze_quantity(self, record):
        return self._freeze.get((record.symbol, record.exchange))


def refusal(data: dict, lookup) -> str:
    with pytest.raises(ValidationError) as caught:
        prepare_place(data, lookup, ordertag=TAG)
    return str(caught.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "inf", "-Infinity", "NaN", Decimal("NaN"), "1e400"])
def test_non_finite_quantities_are_refused(symbols, value):
    message = refusal({**LIMIT_BUY, "quantity": value}, symbols)
    if value == "1e400":  # finite but absurd: the cap speaks
        assert f"above {MAX_ORDER_QUANTITY} units" in message
    else:
        assert message == f"invalid order: quantity must be a finite number, got {value!r}"


@pytest.mark.parametrize("field", ["price", "trigger_price"])
@pytest.mark.parametrize("value", [float("nan"), float("-inf"), "Infinity"])
def test_non_finite_prices_are_refused(symbols, field, value):
    message = refusal({**LIMIT_BUY, "pricetype": "SL", "trigger_price": 570, field: value}, symbols)
    assert message == f"invalid order: {field} must be a finite number, got {value!r}"


def test_non_finite_disclosed_quantity_is_refused(symbols):
    message = refusal({**LIMIT_BUY, "disclosed_quantity": float("inf")}, symbols)
    assert message == "invalid order: disclosed_quantity must be a finite number, got inf"


def test_a_quantity_of_ten_to_the_twelve_is_refused(symbols):
    message = refusal({**LIMIT_BUY, "quantity": 10**12}, symbols)
    assert message == (
        f"quantity 1000000000000 of SBIN on NSE is above {MAX_ORDER_QUANTITY} units, the most one order may carry "
        "when the instrument has no known freeze quantity: check the quantity"
    )


def test_the_cap_itself_is_allowed(symbols):
    assert prepare_place({**LIMIT_BUY, "quantity": MAX_ORDER_QUANTITY}, symbols, ordertag=TAG).body["quantity"] == str(
        MAX_ORDER_QUANTITY
    )


def test_a_price_of_ten_to_the_fifteen_is_refused(symbols):
    assert refusal({**LIMIT_BUY, "price": 10**15}, symbols) == (
        f"price 1000000000000000 of SBIN on NSE is outside the sane range of more than 0 and at most "
        f"{MAX_PRICE} rupees: check the price"
    )
    stop = {**LIMIT_BUY, "pricetype": "SL-M", "action": "SELL", "trigger_price": 10**15}
    assert refusal(stop, symbols).startswith("trigger_price 1000000000000000 of SBIN on NSE is outside the sane range")


def test_market_orders_ignore_the_price_they_do_not_send(symbols):
    body = prepare_place({**LIMIT_BUY, "pricetype": "MARKET", "price": 10**15}, symbols, ordertag=TAG).body
    assert body["price"] == "0"


def test_quantity_above_the_freeze_quantity_is_refused(symbols):
    lookup = WithFreeze(symbols, {("NIFTY28NOV24FUT", "NFO"): 1800})
    assert prepare_place({**NIFTY_FUT, "quantity": 1800}, lookup, ordertag=TAG).body["quantity"] == "1800"
    message = refusal({**NIFTY_FUT, "quantity": 1825}, lookup)
    assert message == (
        "quantity 1825 of NIFTY28NOV24FUT on NFO is above its freeze quantity 1800: the exchange refuses larger "
        "orders; split it into orders of at most 1800"
    )


def test_modify_is_held_to_the_same_limits(symbols):
    data = {**LIMIT_BUY, "orderid": "1", "quantity": 10**12}
    with pytest.raises(ValidationError, match="above 10000000 units"):
        prepare_modify(data, symbols)
    with pytest.raises(ValidationError, match="outside the sane range"):
        prepare_modify({**LIMIT_BUY, "orderid": "1", "price": 10**15}, symbols)


def test_nothing_is_sent_for_absurd_orders(mock_api, symbols):
    for change in ({"quantity": 10**12}, {"price": 10**15}, {"quantity": float("nan")}):
        res, body, orderid = order_api.place_order_api({**LIMIT_BUY, **change}, ACCESS_TOKEN)
        assert (res.status, orderid) == (400, None)
    res, body, orderid = order_api.place_smartorder_api(
        {**LIMIT_BUY, "quantity": 10**12, "position_size": 10**12}, ACCESS_TOKEN
    )
    assert res.status == 400 and "above 10000000 units" in body["message"]
    res, body, orderid = order_api.place_smartorder_api({**LIMIT_BUY, "position_size": float("nan")}, ACCESS_TOKEN)
    assert res.status == 400 and "position_size must be a finite number" in body["message"]
    assert len(mock_api.calls) == 0


def test_margin_legs_are_held_to_the_sanity_limits(mock_api, symbols):
    leg = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS", "pricetype": "LIMIT",
           "quantity": "10", "price": "570"}
    response, body = margin_api.calculate_margin_api([{**leg, "quantity": 10**12}], ACCESS_TOKEN)
    assert response.status == 400 and "above 10000000 units" in body["message"]
    response, body = margin_api.calculate_margin_api([{**leg, "price": 10**15}], ACCESS_TOKEN)
    assert response.status == 400 and "outside the sane range" in body["message"]
    response, body = margin_api.calculate_margin_api([{**leg, "price": "nan"}], ACCESS_TOKEN)
    assert response.status == 400 and "price" in body["message"]
    assert len(mock_api.calls) == 0


def test_the_limits_are_documented_constants():
    assert MAX_ORDER_QUANTITY == 10_000_000
    assert MAX_PRICE == Decimal("10000000")
    assert "MAX_ORDER_QUANTITY" in transform_data.__doc__ and "MAX_PRICE" in transform_data.__doc__
