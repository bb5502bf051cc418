"""Request goldens: OpenAlgo order dict -> exact mStock ``orders/regular`` body (spec 4.3).

Pure mapping, no HTTP: the symbol lookup is the standalone store filled with a few rows.
"""

from __future__ import annotations

import pytest

from broker.mstock.errors import UnknownSymbol, ValidationError
from broker.mstock.mapping import transform_data
from broker.mstock.mapping.transform_data import (
    cancel_request,
    map_order_type,
    map_product_type,
    map_variety,
    reverse_map_product_type,
    transform_modify_order_data,
)
from broker.mstock.mapping.transform_data import transform_data as build

pytestmark = pytest.mark.usefixtures("fast_reconcile")


TAG = "OAM9X2K3QZ1F701XQ2"


def body(**changes):
    """The expected body for a 10-share MIS market buy of SBIN, with ``changes`` applied."""
    expected = {
        "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
        "transactiontype": "BUY", "ordertype": "MARKET", "quantity": "10", "producttype": "INTRADAY",
        "price": "0", "triggerprice": "0", "squareoff": "0", "stoploss": "0", "trailingStopLoss": "",
        "disclosedquantity": "0", "duration": "DAY", "ordertag": TAG,
    }
    expected.update(changes)
    return expected


def order(**changes):
    data = {"apikey": "oa-key", "strategy": "s1", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
            "quantity": 10, "pricetype": "MARKET", "product": "MIS", "price": 0.0, "trigger_price": 0.0,
            "disclosed_quantity": 0}
    data.update(changes)
    return data


GOLDENS = [
    ("market MIS", order(), body()),
    ("limit CNC", order(pricetype="LIMIT", price=571.85, product="CNC"),
     body(ordertype="LIMIT", price="571.85", producttype="DELIVERY")),
    ("stop-limit sell", order(action="SELL", pricetype="SL", price=560.0, trigger_price=560.5),
     body(variety="STOPLOSS", transactiontype="SELL", ordertype="STOPLOSS_LIMIT", price="560.00", triggerprice="560.50")),
    ("stop-market buy", order(pricetype="SL-M", price=999, trigger_price=575.05),
     body(variety="STOPLOSS", ordertype="STOPLOSS_MARKET", triggerprice="575.05")),
    ("BSE equity", order(symbol="ACC", exchange="BSE", product="CNC"),
     body(tradingsymbol="ACC", symboltoken="500410", exchange="BSE", producttype="DELIVERY")),
    ("NFO future NRML", order(symbol="NIFTY28NOV24FUT", exchange="NFO", quantity=50, product="NRML",
                              pricetype="LIMIT", price=24010.3),
     body(tradingsymbol="NIFTY24NOVFUT", symboltoken="35001", exchange="NFO", quantity="50",
          producttype="CARRYFORWARD", ordertype="LIMIT", price="24010.30")),
    ("NFO option with fractional strike", order(symbol="VEDL28NOV24292.5CE", exchange="NFO", quantity=1150),
     body(tradingsymbol="VEDL24NOV292.5CE", symboltoken="60001", exchange="NFO", quantity="1150")),
    ("BFO option", order(symbol="SENSEX23OCT2582700CE", exchange="BFO", quantity=40, product="NRML"),
     body(tradingsymbol="SENSEX25O2382700CE", symboltoken="877966", exchange="BFO", quantity="40",
          producttype="CARRYFORWARD")),
    ("CDS future goes out under NSE (brexchange)", order(symbol="USDINR29OCT25FUT", exchange="CDS",
                                                         pricetype="LIMIT", price=88.2525, quantity=3),
     body(tradingsymbol="USDINR25OCTFUT", symboltoken="11536", exchange="NSE", ordertype="LIMIT",
          price="88.2525", quantity="3")),
    ("strings everywhere (UI / split callers)", order(quantity="10", price="0", trigger_price="0",
                                                      disclosed_quantity="0", action="buy"), body()),
    ("missing optional keys (scalping caller)",
     {"strategy": "x", "symbol": "SBIN", "exchange": "nse", "action": "Buy", "pricetype": "market",
      "product": "mis", "quantity": 10.0}, body()),
    ("lower-case symbol", order(symbol="sbin"), body()),
    ("float noise is the intended price (D22)", order(pricetype="LIMIT", price=101.15000000000001),
     body(ordertype="LIMIT", price="101.15")),
    ("disclosed quantity", order(quantity=100, disclosed_quantity="30"), body(quantity="100", disclosedquantity="30")),
    ("AMO only on request", order(variety="AMO", pricetype="LIMIT", price=570), body(variety="AMO", ordertype="LIMIT", price="570.00")),
]


@pytest.mark.parametrize("data,expected", [g[1:] for g in GOLDENS], ids=[g[0] for g in GOLDENS])
def test_request_golden(symbols, data, expected):
    assert build(data, symbols, ordertag=TAG) == expected


def test_input_dict_is_not_modified(symbols):
    data = order(action="buy", quantity="10")
    snapshot = dict(data)
    build(data, symbols, ordertag=TAG)
    assert data == snapshot


REJECTIONS = [
    ("unknown symbol", order(symbol="SBINX"), UnknownSymbol, "unknown symbol SBINX on NSE"),
    ("symbol on the wrong exchange", order(symbol="NIFTY28NOV24FUT"), UnknownSymbol, "unknown symbol NIFTY28NOV24FUT on NSE"),
    ("index", order(symbol="NIFTY", exchange="NSE_INDEX"), ValidationError, "is an index"),
    ("unsupported exchange", order(exchange="NCDEX"), ValidationError, "cannot be traded through mStock"),
    ("lot size", order(symbol="NIFTY28NOV24FUT", exchange="NFO", quantity=30, product="NRML"), ValidationError,
     "quantity 30 is not a multiple of the lot size 25 for NIFTY28NOV24FUT on NFO (quantities are in units, not lots: use 25 or 50)"),
    ("fractional quantity", order(quantity="10.5"), ValidationError, "quantity must be a whole number of units"),
    ("zero quantity", order(quantity=0), ValidationError, "quantity must be a positive whole number"),
    ("negative price", order(pricetype="LIMIT", price=-1), ValidationError, "price cannot be negative"),
    ("limit without price", order(pricetype="LIMIT", price=0), ValidationError, "a LIMIT order needs a price greater than 0"),
    ("SL without trigger", order(pricetype="SL", price=570), ValidationError, "a SL order needs a trigger_price greater than 0"),
    ("SL-M without trigger", order(pricetype="SL-M"), ValidationError, "a SL-M order needs a trigger_price greater than 0"),
    ("buy stop above limit", order(pricetype="SL", price=570, trigger_price=571), ValidationError,
     "buy stop-limit: trigger_price 571 must not be above the limit price 570"),
    ("sell stop below limit", order(action="SELL", pricetype="SL", price=570, trigger_price=569), ValidationError,
     "sell stop-limit: trigger_price 569 must not be below the limit price 570"),
    ("off tick", order(pricetype="LIMIT", price=571.83), ValidationError,
     "price 571.83 is not on the tick size 0.05 of SBIN on NSE: use 571.80 or 571.85"),
    ("off tick trigger", order(pricetype="SL-M", trigger_price=100.01), ValidationError,
     "trigger_price 100.01 is not on the tick size 0.05 of SBIN on NSE: use 100.00 or 100.05"),
    ("off tick currency", order(symbol="USDINR29OCT25FUT", exchange="CDS", pricetype="LIMIT", price=88.251), ValidationError,
     "use 88.2500 or 88.2525"),
    ("CNC on derivatives", order(symbol="NIFTY28NOV24FUT", exchange="NFO", quantity=25, product="CNC"), ValidationError,
     "product CNC is for cash equity; use NRML or MIS for NIFTY28NOV24FUT on NFO"),
    ("NRML on equity", order(product="NRML"), ValidationError, "product NRML is for derivatives; use CNC or MIS for SBIN on NSE"),
    ("bad action", order(action="HOLD"), ValidationError, "action must be BUY or SELL"),
    ("bad pricetype", order(pricetype="STOP"), ValidationError, "pricetype must be MARKET, LIMIT, SL or SL-M"),
    ("bad product", order(product="MTF"), ValidationError, "product must be CNC, MIS or NRML"),
    ("disclosed above quantity", order(disclosed_quantity=11), ValidationError, "disclosed_quantity 11 cannot exceed quantity 10"),
    ("missing symbol", {"exchange": "NSE", "action": "BUY", "quantity": 1}, ValidationError, "symbol"),
]


@pytest.mark.parametrize("data,error,message", [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_rejected_before_sending(symbols, data, error, message):
    with pytest.raises(error) as caught:
        build(data, symbols, ordertag=TAG)
    assert message in str(caught.value)


def test_modify_body(symbols):
    data = {"orderid": " 1191241106101", "symbol": "SBIN", "exchange": "NSE", "action": "buy", "product": "MIS",
            "pricetype": "SL", "price": "572.5", "trigger_price": 572.45, "quantity": "20", "disclosed_quantity": None}
    assert transform_modify_order_data(data, symbols) == {
        "variety": "STOPLOSS", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
        "transactiontype": "BUY", "orderid": "1191241106101", "ordertype": "STOPLOSS_LIMIT", "quantity": "20",
        "producttype": "INTRADAY", "duration": "DAY", "price": "572.50", "triggerprice": "572.45",
        "disclosedquantity": "0", "modqty_remng": "0",
    }


def test_modify_keeps_amo_variety(symbols):
    data = {"orderid": "1", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS",
            "pricetype": "LIMIT", "price": 570, "quantity": 1}
    assert transform_modify_order_data(data, symbols, variety="AMO")["variety"] == "AMO"


def test_cancel_body_strips_order_id():
    assert cancel_request(" 1191241106101 ", "STOPLOSS") == {"variety": "STOPLOSS", "orderid": "1191241106101"}


def test_vocabulary_helpers():
    assert [map_product_type(p) for p in ("CNC", "MIS", "NRML")] == ["DELIVERY", "INTRADAY", "CARRYFORWARD"]
    assert [map_order_type(p) for p in ("MARKET", "LIMIT", "SL", "SL-M")] == [
        "MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"]
    assert [map_variety(p) for p in ("MARKET", "LIMIT", "SL", "SL-M")] == ["NORMAL", "NORMAL", "STOPLOSS", "STOPLOSS"]
    assert map_variety("SL", amo=True) == "AMO"
    assert [reverse_map_product_type(p, "NSE") for p in ("DELIVERY", "INTRADAY", "CARRYFORWARD", "MARGIN", "CNC")] == [
        "CNC", "MIS", "NRML", "CNC", "CNC"]
    assert reverse_map_product_type("MARGIN", "NFO") == "NRML"


def test_no_stop_loss_spelling_anywhere():
    """D4: mStock rejects "STOP_LOSS"; it must never be sent."""
    assert "STOP_LOSS" not in transform_data.ORDER_TYPE_TO_MSTOCK.values()
