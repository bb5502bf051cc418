"""Response goldens: mStock book rows -> exact OpenAlgo rows (spec 4.7-4.10, 5.1, 5.3; contract 5).

The books are fetched through the facade (HTTP mocked) and mapped exactly as OpenAlgo's
services call the mapping functions, keyword names included.
"""

from __future__ import annotations

import logging

import pytest
from responses import matchers

from broker.mstock.api import order_api
from broker.mstock.mapping import order_data
from broker.mstock.mapping.codes import STATUS_TO_OPENALGO, openalgo_status

from ..helpers import ACCESS_TOKEN, add_route, load_fixture
from .order_support import load, order_row

pytestmark = pytest.mark.usefixtures("fast_reconcile")


def test_order_book_golden(mock_api, symbols):
    add_route(mock_api, "orders.list", case="mixed")
    raw = order_api.get_order_book(ACCESS_TOKEN)
    mapped = order_data.map_order_data(order_data=raw)
    result = {
        "orders": order_data.transform_order_data(mapped),
        "statistics": order_data.calculate_order_statistics(mapped),
    }
    assert result == load("orders.list__mixed.openalgo.json")


def test_every_order_row_has_a_string_pricetype_and_known_status(mock_api, symbols):
    add_route(mock_api, "orders.list", case="mixed")
    rows = order_data.transform_order_data(order_data.map_order_data(order_data=order_api.get_order_book(ACCESS_TOKEN)))
    assert {row["pricetype"] for row in rows} == {"MARKET", "LIMIT", "SL", "SL-M"}
    assert {row["product"] for row in rows} == {"CNC", "MIS", "NRML"}
    assert {row["order_status"] for row in rows} == {"open", "trigger pending", "complete", "rejected", "cancelled", "expired"}


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Transit", "open"), ("Pending", "open"), ("O-Pending", "open"), ("o - pending", "open"),
        ("O-Modified", "open"), ("Traded", "complete"), ("TRADE CONFIRMED", "complete"),
        ("trade  confirmed", "complete"), ("Rejected", "rejected"), ("Cancelled", "cancelled"),
        ("O-Cancelled", "cancelled"), (" CANCELLED ", "cancelled"), ("Trigger Pending", "trigger pending"),
        ("TRIGGER_PENDING", "trigger pending"), ("trigger pending", "trigger pending"),
    ],
)
def test_status_table(raw, expected):
    assert openalgo_status(raw) == expected


def test_unknown_status_passes_through_lowercased_and_is_logged_once(caplog):
    with caplog.at_level(logging.WARNING, logger="broker.mstock.mapping.codes"):
        first = openalgo_status("After Market Order Req Received")
        second = openalgo_status("After Market Order Req Received")
    assert (first, second) == ("after market order req received", "after market order req received")
    assert [r.getMessage() for r in caplog.records].count(
        "unmapped mStock order status 'After Market Order Req Received' passed through unchanged"
    ) == 1


def test_status_table_covers_only_openalgo_statuses():
    assert set(STATUS_TO_OPENALGO.values()) == {"open", "trigger pending", "complete", "rejected", "cancelled"}


def test_statistics_count_cancelled_apart_from_rejected():
    rows = [
        {"action": "BUY", "order_status": "cancelled"},
        {"action": "SELL", "order_status": "rejected"},
        {"action": "BUY", "order_status": "trigger pending"},
    ]
    assert order_data.calculate_order_statistics(rows) == {
        "total_buy_orders": 2, "total_sell_orders": 1, "total_completed_orders": 0, "total_open_orders": 1,
        "total_rejected_orders": 1, "total_cancelled_orders": 1, "total_trigger_pending_orders": 1,
    }


def test_trade_book_golden(mock_api, symbols):
    add_route(mock_api, "orders.trades", case="mixed")
    raw = order_api.get_trade_book(ACCESS_TOKEN)
    rows = order_data.transform_tradebook_data(order_data.map_trade_data(trade_data=raw))
    assert rows == [
        {"symbol": "IDEA", "exchange": "NSE", "product": "CNC", "action": "SELL", "quantity": 4,
         "average_price": 6.98, "trade_value": 27.92, "orderid": "21612506101476", "timestamp": "10-Jun-2025 13:08:42"},
        {"symbol": "NIFTY07NOV2424000CE", "exchange": "NFO", "product": "NRML", "action": "BUY", "quantity": 25,
         "average_price": 95.5, "trade_value": 2387.5, "orderid": "22212411061278", "timestamp": "06-Nov-2024 10:01:07"},
        {"symbol": "SENSEX23OCT2582700CE", "exchange": "BFO", "product": "MIS", "action": "BUY", "quantity": 20,
         "average_price": 310.25, "trade_value": 6205.0, "orderid": "2221241106111", "timestamp": "06-Nov-2024 11:30:00"},
        {"symbol": "USDINR29OCT25FUT", "exchange": "CDS", "product": "NRML", "action": "BUY", "quantity": 1,
         "average_price": 88.2525, "trade_value": 88.25, "orderid": "1161241106130", "timestamp": "06-Nov-2024 11:45:10"},
        {"symbol": "TCS", "exchange": "NSE", "product": "MIS", "action": "BUY", "quantity": 5,
         "average_price": 4102.5, "trade_value": 20512.5, "orderid": "1191241106113", "timestamp": "06-Nov-2024 12:42:19"},
    ]


QUOTE_REQUEST = {"mode": "LTP", "exchangeTokens": {"BFO": ["877966"], "NFO": ["50374"], "NSE": ["11536", "3045"]}}
QUOTE_REPLY = {"status": "true", "message": "SUCCESS", "errorcode": "", "data": {"fetched": [
    {"exchange": "NFO", "tradingSymbol": "NIFTY24N0724000CE", "symbolToken": "50374", "ltp": 790.0},
    {"exchange": "NSE", "tradingSymbol": "SBIN-EQ", "symbolToken": "3045", "ltp": 2910.0},
    {"exchange": "NSE", "tradingSymbol": "USDINR25OCTFUT", "symbolToken": "11536", "ltp": 88.5},
    {"exchange": "BFO", "tradingSymbol": "SENSEX25O2382700CE", "symbolToken": "877966", "ltp": 310.0},
], "unfetched": []}}

POSITIONS_GOLDEN = [
    # spec 5.1's sample: short 500 at 799.97; (479980 - 80010) - 500 x 790 = 4970 (netvalue would say 399970)
    {"symbol": "NIFTY07NOV2424000CE", "exchange": "NFO", "product": "MIS", "quantity": -500,
     "average_price": 799.97, "ltp": 790.0, "pnl": 4970.0},
    # long 50 at 2900, LTP 2910: +500 (upstream showed netvalue, -145000: D21)
    {"symbol": "SBIN", "exchange": "NSE", "product": "CNC", "quantity": 50, "average_price": 2900.0, "ltp": 2910.0, "pnl": 500.0},
    # closed round trip: realised 10 x 12.5, nothing to quote
    {"symbol": "ACC", "exchange": "NSE", "product": "MIS", "quantity": 0, "average_price": 0.0, "ltp": 0.0, "pnl": 125.0},
    # currency under NSE/FUTCUR is CDS, not TCS; 1000 x (3 x 88.5 - 264.75)
    {"symbol": "USDINR29OCT25FUT", "exchange": "CDS", "product": "NRML", "quantity": 3, "average_price": 88.25,
     "ltp": 88.5, "pnl": 750.0},
    # carried-forward 40 at 300, 20 sold at 320 today, LTP 310: 400 realised + 200 unrealised; MARGIN on F&O is NRML
    {"symbol": "SENSEX23OCT2582700CE", "exchange": "BFO", "product": "NRML", "quantity": 20, "average_price": 300.0,
     "ltp": 310.0, "pnl": 600.0},
]


def test_position_book_golden_with_one_quote_batch(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", case="mixed")
    add_route(mock_api, "market.quote", QUOTE_REPLY, match=[matchers.json_params_matcher(QUOTE_REQUEST)])
    raw = order_api.get_positions(ACCESS_TOKEN)
    rows = order_data.transform_positions_data(order_data.map_position_data(raw))
    assert rows == POSITIONS_GOLDEN
    assert [call.request.url.rsplit("/", 1)[-1] for call in mock_api.calls] == ["positions", "quote"]


def test_positions_without_ltp_when_the_quote_fails_report_realised_pnl(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", case="mixed")
    add_route(mock_api, "market.quote", {"status": "false", "message": "mode rejected", "errorcode": "IA400"}, status=400)
    rows = order_data.map_position_data(order_api.get_positions(ACCESS_TOKEN))
    assert [(row["quantity"], row["ltp"], row["pnl"]) for row in rows] == [
        (-500, 0.0, -13.0), (50, 0.0, 0.0), (0, 0.0, 125.0), (3, 0.0, 0.0), (20, 0.0, 400.0)]


def test_holdings_golden(mock_api, symbols):
    add_route(mock_api, "portfolio.holdings", case="mixed")
    mapped = order_data.map_portfolio_data(order_api.get_holdings(ACCESS_TOKEN))
    assert order_data.transform_holdings_data(mapped) == [
        # exchange and product null: NSE (token found there) and CNC; P&L computed, mStock sent 0
        {"symbol": "MAHABANK", "exchange": "NSE", "quantity": 10, "product": "CNC", "pnl": 547.0, "pnlpercent": 182.33,
         "average_price": 30.0, "ltp": 84.7},
        {"symbol": "SBIN", "exchange": "NSE", "quantity": 5, "product": "CNC", "pnl": -147.5, "pnlpercent": -4.92,
         "average_price": 600.0, "ltp": 570.5},
        {"symbol": "ACC", "exchange": "BSE", "quantity": 2, "product": "CNC", "pnl": 500.0, "pnlpercent": 12.5,
         "average_price": 2000.0, "ltp": 2250.0},
    ]
    assert order_data.calculate_portfolio_statistics(mapped) == {
        "totalholdingvalue": 8199.5, "totalinvvalue": 7300.0, "totalprofitandloss": 899.5, "totalpnlpercentage": 12.32,
    }


@pytest.mark.parametrize(
    "route,case,fetch",
    [
        ("orders.list", "empty_null", order_api.get_order_book),
        ("orders.list", "empty_list", order_api.get_order_book),
        ("orders.trades", "empty", order_api.get_trade_book),
        ("portfolio.positions", "null", order_api.get_positions),
        ("portfolio.holdings", "null", order_api.get_holdings),
    ],
)
def test_an_empty_day_is_an_empty_book_not_an_error(mock_api, symbols, route, case, fetch):
    add_route(mock_api, route, case=case)
    assert fetch(ACCESS_TOKEN) == []


@pytest.mark.parametrize(
    "route,fetch",
    [
        ("orders.list", order_api.get_order_book),
        ("orders.trades", order_api.get_trade_book),
        ("portfolio.positions", order_api.get_positions),
        ("portfolio.holdings", order_api.get_holdings),
    ],
)
def test_an_expired_session_is_an_error_not_an_empty_book(mock_api, symbols, route, fetch):
    add_route(mock_api, route, load_fixture("orders.list", "expired"), status=401)
    result = fetch(ACCESS_TOKEN)
    assert result["status"] == "error"
    assert "Invalid request. Please try again." in result["message"]


def test_map_functions_accept_the_keyword_names_openalgo_uses(symbols):
    raw = [order_row()]
    assert order_data.map_order_data(order_data=raw)[0]["symbol"] == "SBIN"
    assert order_data.map_trade_data(trade_data=[]) == []


def test_book_rows_with_unknown_instrument_types_keep_their_names(symbols):
    rows = order_data.map_order_data(order_data=[order_row(instrumenttype="WEIRD", tradingsymbol="ODD-1")])
    assert (rows[0]["symbol"], rows[0]["exchange"]) == ("ODD-1", "NSE")
