"""Quotes and multi-quotes (spec 8.1; contract 9.2, 9.3): request goldens, joins, errors."""

from __future__ import annotations

import dataclasses

import pytest

from broker.mstock import errors, host
from broker.mstock.api.data import BrokerData
from broker.mstock.market import quotes

from ..helpers import ACCESS_TOKEN, add_route, load_fixture, sent_json
from .market_support import FakeSymbols, record


@pytest.fixture(autouse=True)
def symbols(monkeypatch):
    lookup = FakeSymbols()
    monkeypatch.setattr(host, "symbols", lambda: lookup)
    return lookup


def _data() -> BrokerData:
    return BrokerData(ACCESS_TOKEN)


MIXED = [
    {"symbol": "SBIN", "exchange": "NSE"},
    {"symbol": "ACC", "exchange": "BSE"},
    {"symbol": "NIFTY", "exchange": "NSE_INDEX"},
    {"symbol": "NIFTY30JAN2524000CE", "exchange": "NFO"},
    {"symbol": "USDINR29JAN2588.25CE", "exchange": "CDS"},
    {"symbol": "SENSEX23JAN2582700CE", "exchange": "BFO"},
]


def test_get_quotes_maps_ohlc_row_to_plain_numbers(mock_api):
    add_route(mock_api, "market.quote", case="ohlc")
    quote = _data().get_quotes("SBIN", "NSE")
    assert quote == {
        "ltp": 571.8, "open": 568.75, "high": 568.75, "low": 567.05, "prev_close": 566.5,
        "volume": 0, "bid": 0.0, "ask": 0.0, "oi": 0, "bid_qty": 0, "ask_qty": 0,
    }
    assert sent_json(mock_api.calls[0]) == {"mode": "FULL", "exchangeTokens": {"NSE": ["3045"]}}


def test_index_quote_is_keyed_by_brexchange_nse(mock_api):
    add_route(mock_api, "market.quote", case="ohlc_mixed")
    assert _data().get_quotes("NIFTY", "NSE_INDEX")["ltp"] == 24012.4
    assert sent_json(mock_api.calls[0])["exchangeTokens"] == {"NSE": ["26000"]}


def test_multiquotes_one_call_for_all_exchanges_in_input_order(mock_api):
    add_route(mock_api, "market.quote", case="ohlc_mixed")
    results = _data().get_multiquotes(MIXED)
    assert len(mock_api.calls) == 1
    assert sent_json(mock_api.calls[0]) == load_fixture("market.quote", "request_mixed")
    assert [(r["symbol"], r["exchange"]) for r in results] == [(m["symbol"], m["exchange"]) for m in MIXED]
    assert [r["data"]["ltp"] for r in results] == [571.8, 2251.6, 24012.4, 182.5, 0.1425, 412.35]
    assert results[4]["data"]["prev_close"] == 0.145


def test_multiquotes_unknown_and_unfetched_are_per_symbol_errors(mock_api):
    add_route(mock_api, "market.quote", case="partial")
    results = _data().get_multiquotes(
        [{"symbol": "RELIANCE", "exchange": "NSE"}, {"symbol": "NOPE", "exchange": "NSE"}, {"symbol": "SBIN", "exchange": "NSE"}]
    )
    assert results[0] == {"symbol": "RELIANCE", "exchange": "NSE", "error": "no quote for RELIANCE on NSE: Invalid token [IA400]"}
    assert results[1] == {"symbol": "NOPE", "exchange": "NSE", "error": "unknown symbol NOPE on NSE"}
    assert results[2]["data"]["ltp"] == 571.8
    assert sent_json(mock_api.calls[0])["exchangeTokens"] == {"NSE": ["2885", "3045"]}


def test_multiquotes_missing_from_reply_is_an_error(mock_api):
    add_route(mock_api, "market.quote", case="ohlc")
    results = _data().get_multiquotes([{"symbol": "SBIN", "exchange": "NSE"}, {"symbol": "ACC", "exchange": "BSE"}])
    assert results[1]["error"] == "no quote for ACC on BSE: not in mStock's reply"


def test_multiquotes_duplicates_are_asked_once_and_echoed_twice(mock_api):
    add_route(mock_api, "market.quote", case="ohlc")
    results = _data().get_multiquotes([{"symbol": "SBIN", "exchange": "NSE"}] * 3)
    assert sent_json(mock_api.calls[0])["exchangeTokens"] == {"NSE": ["3045"]}
    assert [r["data"]["ltp"] for r in results] == [571.8, 571.8, 571.8]


def test_plan_respects_the_token_cap_across_exchanges():
    lookup = FakeSymbols()
    targets = [t for t in quotes.resolve_targets([(m["symbol"], m["exchange"]) for m in MIXED], lookup)]
    calls = quotes.plan_quote_calls(targets, cap=4)
    assert [len(c) for c in calls] == [4, 2]
    assert quotes.quote_body("OHLC", calls[0]) == {
        "mode": "OHLC", "exchangeTokens": {"NSE": ["3045", "26000"], "BSE": ["500410"], "NFO": ["35010"]}
    }


def test_plan_separates_instruments_the_reply_could_not_tell_apart():
    # INFY (NSE equity) and a USDINR future tagged NSE share token 1594 (spec 8.4).
    targets = quotes.resolve_targets([("INFY", "NSE"), ("USDINR29JAN25FUT", "CDS"), ("SBIN", "NSE")], FakeSymbols())
    calls = quotes.plan_quote_calls(targets)
    assert [[t.symbol for t in call] for call in calls] == [["INFY", "SBIN"], ["USDINR29JAN25FUT"]]


def test_multiquotes_batches_by_cap(mock_api, monkeypatch):
    monkeypatch.setattr(quotes, "MAX_TOKENS_PER_QUOTE_CALL", 2)
    seen: list[int] = []
    add_route(mock_api, "market.quote", case="ohlc_mixed")
    data = _data()
    results = quotes.get_multiquotes(data._client, FakeSymbols(), MIXED, cap=2, on_call=seen.append)
    assert seen == [2, 2, 2]
    assert len(mock_api.calls) == 3
    assert all("data" in r for r in results)


def test_one_failed_batch_keeps_the_others(mock_api):
    add_route(mock_api, "market.quote", case="ohlc_mixed")
    add_route(mock_api, "market.quote", {"status": "false", "message": "Server busy", "errorcode": "IA500"}, status=200)
    # responses serves registered bodies in order for repeated matches: first OK, then failures.
    client = _data()._client
    client.max_attempts = 1
    results = quotes.get_multiquotes(client, FakeSymbols(), MIXED[:4], cap=2)
    assert [("data" in r) for r in results] == [True, True, False, False]
    assert results[2]["error"] == "Server busy [IA500]"


def test_every_batch_failing_raises_the_cause(mock_api):
    add_route(mock_api, "market.quote", case="expired", status=401)
    with pytest.raises(errors.SessionExpired):
        _data().get_multiquotes(MIXED)


def test_get_quotes_unfetched_raises_with_broker_reason(mock_api):
    add_route(mock_api, "market.quote", case="partial")
    with pytest.raises(quotes.QuoteUnavailable, match="Invalid token"):
        _data().get_quotes("RELIANCE", "NSE")


def test_get_quotes_unknown_symbol_raises_before_any_request(mock_api):
    with pytest.raises(errors.UnknownSymbol, match="unknown symbol SBINX on NSE"):
        _data().get_quotes("SBINX", "NSE")
    assert len(mock_api.calls) == 0


def test_full_mode_rejected_falls_back_to_ohlc_once_and_remembers(mock_api):
    add_route(mock_api, "market.quote", case="mode_rejected")
    add_route(mock_api, "market.quote", case="ohlc")
    add_route(mock_api, "market.quote", case="ohlc")
    data = _data()
    assert data.get_quotes("SBIN", "NSE")["ltp"] == 571.8
    assert data.get_quotes("SBIN", "NSE")["ltp"] == 571.8
    assert [sent_json(c)["mode"] for c in mock_api.calls] == ["FULL", "OHLC", "OHLC"]


def test_failure_in_both_modes_raises_and_keeps_full(mock_api):
    add_route(mock_api, "market.quote", case="mode_rejected")
    with pytest.raises(errors.InputRejected):
        _data().get_quotes("SBIN", "NSE")
    assert quotes.capabilities.mode == "FULL"


def test_full_row_fills_volume_oi_bid_ask(mock_api):
    add_route(mock_api, "market.quote", case="full_depth")
    quote = _data().get_quotes("NIFTY30JAN2524000CE", "NFO")
    assert quote == {
        "ltp": 182.5, "open": 170.0, "high": 190.25, "low": 165.8, "prev_close": 171.35,
        "volume": 1843275, "bid": 182.45, "ask": 182.55, "oi": 5321100, "bid_qty": 1500, "ask_qty": 1125,
    }


def test_reply_joined_by_token_when_exchange_spelled_differently(mock_api):
    body = load_fixture("market.quote", "ohlc")
    body["data"]["fetched"][0]["exchange"] = "NSECM"
    add_route(mock_api, "market.quote", body)
    assert _data().get_quotes("SBIN", "NSE")["ltp"] == 571.8


def test_string_numbers_and_nulls_become_plain_numbers():
    row = {"ltp": "571.80", "open": None, "high": "None", "low": "", "close": "566.5", "volume": "1,200"}
    assert quotes.quote_from_row(row) == {
        "ltp": 571.8, "open": 0.0, "high": 0.0, "low": 0.0, "prev_close": 566.5,
        "volume": 1200, "bid": 0.0, "ask": 0.0, "oi": 0, "bid_qty": 0, "ask_qty": 0,
    }


def test_reply_without_fetched_is_bad_response(mock_api):
    add_route(mock_api, "market.quote", {"status": "true", "data": {"rows": []}})
    client = _data()._client
    client.max_attempts = 1
    with pytest.raises(errors.BadResponse):
        quotes.get_quote(client, FakeSymbols(), "SBIN", "NSE")


def test_record_helper_sanity():
    assert record("NIFTY", "NSE_INDEX").brexchange == "NSE"


def test_cli_reads_pairs_and_colon_forms():
    from broker.mstock.cli.market import parse_instrument_args

    assert parse_instrument_args(["sbin", "nse", "NIFTY:NSE_INDEX", "M&M:NSE"]) == [
        {"symbol": "SBIN", "exchange": "NSE"}, {"symbol": "NIFTY", "exchange": "NSE_INDEX"}, {"symbol": "M&M", "exchange": "NSE"}
    ]


def test_cli_rejects_a_symbol_without_exchange():
    from broker.mstock.cli.market import parse_instrument_args

    with pytest.raises(errors.ValidationError, match="has no exchange"):
        parse_instrument_args(["SBIN"])


def _quote_reference(row):
    """The straightforward reading of a row, which the faster quote_from_row must equal."""
    from broker.mstock.mapping.book_values import as_float, as_int, first_present

    def side(name, alias):
        depth = row.get("depth")
        if not isinstance(depth, dict):
            return {}
        levels = depth.get(name) or depth.get(alias) or []
        levels = [lvl for lvl in levels if isinstance(lvl, dict)] if isinstance(levels, list) else []
        return levels[0] if levels else {}

    bid, ask = side("buy", "bids"), side("sell", "asks")
    return {
        "ltp": as_float(first_present(row, "ltp", "lastPrice", "last_price")),
        "open": as_float(row.get("open")), "high": as_float(row.get("high")), "low": as_float(row.get("low")),
        "prev_close": as_float(first_present(row, "close", "prevClose", "previousClose")),
        "volume": as_int(first_present(row, "volume", "tradeVolume", "totalTradedVolume")),
        "bid": as_float(first_present(row, "bid", "bestBidPrice") or bid.get("price")),
        "ask": as_float(first_present(row, "ask", "bestAskPrice") or ask.get("price")),
        "oi": as_int(first_present(row, "oi", "opnInterest", "openInterest")),
        "bid_qty": as_int(first_present(row, "bid_qty", "bestBidQty") or bid.get("quantity")),
        "ask_qty": as_int(first_present(row, "ask_qty", "bestAskQty") or ask.get("quantity")),
    }


@pytest.mark.parametrize("row", [
    {"ltp": 571.8, "open": 570, "high": 575.25, "low": 566.1, "close": 566.5},
    {"lastPrice": "571.80", "open": "None", "high": float("nan"), "low": float("inf"), "prevClose": "1,566.5"},
    {"ltp": True, "open": False, "close": "null", "previousClose": 12, "last_price": 3.0},
    {"ltp": 182.5, "tradeVolume": 1843275.0, "opnInterest": "5321100", "depth": {
        "buy": [{"price": 182.45, "quantity": 1500}], "sell": [{"price": "182.55", "quantity": "1125"}]}},
    {"ltp": 1.0, "bid": 0, "bestBidPrice": 2.5, "depth": {"bids": [{"price": 3.5, "quantity": 7}], "asks": "x"}},
    {"ltp": 1.0, "volume": float("inf"), "oi": "12.0", "ask_qty": None, "bestAskQty": 4, "depth": None},
    {"ltp": 1.0, "volume": 10.7, "oi": -3, "bid_qty": "", "depth": {"buy": [None, {"price": 9}], "sell": []}},
])
def test_quote_from_row_equals_the_plain_reading(row):
    assert quotes.quote_from_row(row) == _quote_reference(row)


def test_reply_not_joined_by_token_when_two_instruments_share_it(mock_api):
    body = load_fixture("market.quote", "ohlc")
    for row in body["data"]["fetched"]:
        row["exchange"] = "NSECM"
    add_route(mock_api, "market.quote", body)
    client = _data()._client
    sbin = record("SBIN", "NSE")
    same_token = [quotes.QuoteTarget("SBIN", "NSE", sbin),
                  quotes.QuoteTarget("SBIN", "BSE", dataclasses.replace(sbin, exchange="BSE", brexchange="BSE"))]
    out = quotes.fetch_rows(client, same_token)
    assert [str(v) for v in out.values()] == [
        "no quote for SBIN on NSE: not in mStock's reply", "no quote for SBIN on BSE: not in mStock's reply"]
