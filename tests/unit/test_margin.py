"""Order margin (spec 7; contract 8): one call for every leg, every failure shape non-200."""

from __future__ import annotations

import pytest

from broker.mstock import host
from broker.mstock.api.margin_api import calculate_margin_api
from broker.mstock.mapping import margin_data

from ..helpers import ACCESS_TOKEN, add_route, load_fixture, sent_json
from .market_support import FakeSymbols


@pytest.fixture(autouse=True)
def symbols(monkeypatch):
    lookup = FakeSymbols()
    monkeypatch.setattr(host, "symbols", lambda: lookup)
    return lookup


def _position(symbol="ACC", exchange="BSE", action="BUY", quantity="5", product="CNC", price="2250", trigger="0", pricetype="LIMIT"):
    return {"symbol": symbol, "exchange": exchange, "action": action, "quantity": quantity, "product": product,
            "pricetype": pricetype, "price": price, "trigger_price": trigger}


BASKET = [
    _position("NIFTY30JAN25FUT", "NFO", "BUY", "75", "NRML", "0", pricetype="MARKET"),
    _position("NIFTY30JAN2524000CE", "NFO", "sell", "75", "NRML", "182.50"),
    _position("USDINR29JAN2588.25CE", "CDS", "BUY", "1", "MIS", "0.1425", trigger="0.14", pricetype="SL"),
]


def test_single_delivery_leg_request_and_result(mock_api):
    add_route(mock_api, "margins.orders", case="ok")
    response, data = calculate_margin_api([_position()], ACCESS_TOKEN)
    assert sent_json(mock_api.calls[0]) == {"orders": [
        {"product_type": "DELIVERY", "transaction_type": "BUY", "quantity": "5", "price": "2250", "exchange": "BSE",
         "symbol_name": "ACC", "token": "500410", "trigger_price": 0}
    ]}
    assert response.status_code == 200
    assert data == {"status": "success", "data": {
        "total_margin_required": 11250.0, "span_margin": 0.0, "exposure_margin": 0.0, "var_elm_margin": 0.0,
        "trade_value": 0.0,
        "breakup": {"brokerage": 0.0, "broker_brokerage": 0.0, "expomargin": 0.0, "levies_brokerage": 0.0,
                    "other_brokerage": 0.0, "spanmargin": 0.0, "varelmmargin": 0.0},
    }}


def test_basket_is_one_call_with_every_leg(mock_api):
    add_route(mock_api, "margins.orders", case="fno_basket")
    response, data = calculate_margin_api(BASKET, ACCESS_TOKEN)
    assert len(mock_api.calls) == 1
    assert sent_json(mock_api.calls[0]) == load_fixture("margins.orders", "request_fno_basket")
    assert response.status == 200
    assert (data["data"]["total_margin_required"], data["data"]["span_margin"], data["data"]["exposure_margin"]) == (
        152341.5, 116279.0, 36022.5
    )


@pytest.mark.parametrize(
    ("case", "http", "status", "message"),
    [
        ("rejected", 200, 400, "Invalid product type. [IA400]"),
        ("problem_details", 400, 400, "One or more validation errors occurred. orders: The orders field is required."),
        ("expired", 401, 401, "Invalid request. Please try again. [IA401]"),
        ("no_summary", 200, 502, "margins.orders: reply has no summary.total_charges"),
    ],
)
def test_every_failure_is_a_non_200_pair_with_the_reason(mock_api, case, http, status, message):
    add_route(mock_api, "margins.orders", case=case, status=http)
    response, data = calculate_margin_api([_position()], ACCESS_TOKEN)
    assert response.status_code == status
    assert data["status"] == "error"
    assert message in data["message"]


def test_unknown_symbol_is_400_and_nothing_is_sent(mock_api):
    response, data = calculate_margin_api([_position(), _position(symbol="NOPE", exchange="NSE")], ACCESS_TOKEN)
    assert (response.status_code, data) == (400, {"status": "error", "message": "unknown symbol NOPE on NSE"})
    assert len(mock_api.calls) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"product": "CO"}, "product 'CO' of ACC is not one of CNC, MIS, NRML"),
        ({"action": "HOLD"}, "action 'HOLD' of ACC must be BUY or SELL"),
        ({"quantity": "0"}, "quantity '0' of ACC must be a whole number above 0"),
        ({"quantity": "1.5"}, "quantity '1.5' of ACC must be a whole number above 0"),
        ({"price": "-1"}, "price '-1' of ACC is not a non-negative number"),
    ],
)
def test_invalid_positions_are_rejected_before_sending(mock_api, change, message):
    response, data = calculate_margin_api([{**_position(), **change}], ACCESS_TOKEN)
    assert (response.status_code, data["message"]) == (400, message)
    assert len(mock_api.calls) == 0


def test_no_positions_is_a_validation_error():
    response, data = calculate_margin_api([], ACCESS_TOKEN)
    assert (response.status_code, data["message"]) == (400, "no positions to calculate margin for")


def test_numbers_from_internal_callers_are_formatted_as_mstock_strings():
    leg = margin_data.margin_leg({**_position(), "quantity": 10, "price": 2250.5, "trigger_price": 0.0}, FakeSymbols())
    assert (leg["quantity"], leg["price"], leg["trigger_price"]) == ("10", "2250.5", 0)


def test_breakup_amounts_with_string_numbers_are_summed_by_name():
    result = margin_data.margin_result({"summary": {"total_charges": "100.5", "breakup": [
        {"name": "SPANMARGIN", "amount": "60"}, {"name": "spanmargin", "amount": 10}, {"name": "EXPOMARGIN", "amount": None}]}})
    assert result["data"]["span_margin"] == 70.0
    assert result["data"]["exposure_margin"] == 0.0
    assert result["data"]["total_margin_required"] == 100.5


def test_index_legs_are_refused_before_sending(mock_api):
    from broker.mstock.errors import ValidationError
    from broker.mstock.mapping.margin_data import margin_leg

    with pytest.raises(ValidationError) as caught:
        margin_leg({"symbol": "NIFTY", "exchange": "NSE_INDEX", "action": "BUY", "quantity": "75", "product": "MIS",
                    "pricetype": "MARKET", "price": "0", "trigger_price": "0"}, FakeSymbols())
    assert "indices can be quoted but not traded" in str(caught.value)
    assert len(mock_api.calls) == 0
