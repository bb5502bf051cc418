"""Market depth (contract 9.4): FULL quote depth when mStock has it, else one feed snapshot."""

from __future__ import annotations

import pytest

from broker.mstock import errors
from broker.mstock.market import depth, quotes
from broker.mstock.transport.client import get_client

from ..helpers import ACCESS_TOKEN, add_route, sent_json
from .market_support import FakeSymbols

SNAP = {
    "ltp": 571.8, "last_qty": 25, "avg_price": 570.1, "volume": 1250000, "total_buy_qty": 350000.0,
    "total_sell_qty": 410000.0, "open": 568.75, "high": 574.0, "low": 567.05, "close": 566.5, "oi": 0,
    "bids": [{"price": 571.75, "quantity": 120, "orders": 3}, {"price": 571.7, "quantity": 80, "orders": 2}],
    "asks": [{"price": 571.85, "quantity": 60, "orders": 1}, {"price": 571.9, "quantity": 300, "orders": 4},
             {"price": 571.95, "quantity": 10, "orders": 1}, {"price": 572.0, "quantity": 500, "orders": 9},
             {"price": 572.05, "quantity": 75, "orders": 2}, {"price": 572.1, "quantity": 1, "orders": 1}],
}
ZERO = {"price": 0.0, "quantity": 0}


class FakeSnapshot:
    def __init__(self, result=SNAP, error: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self._result = result
        self._error = error

    def __call__(self, auth_token, exchange, token, *, timeout):
        self.calls.append((auth_token, exchange, token, timeout))
        if self._error is not None:
            raise self._error
        return self._result


def _depth(snapshot, symbol="SBIN", exchange="NSE"):
    return depth.get_depth(get_client(ACCESS_TOKEN), FakeSymbols(), ACCESS_TOKEN, symbol, exchange, snapshot=snapshot)


def test_full_quote_depth_is_used_and_padded(mock_api):
    add_route(mock_api, "market.quote", case="full_depth")
    snapshot = FakeSnapshot()
    result = _depth(snapshot, "NIFTY30JAN2524000CE", "NFO")
    assert snapshot.calls == []
    assert result == {
        "bids": [{"price": 182.45, "quantity": 1500}, {"price": 182.4, "quantity": 2250}, {"price": 182.35, "quantity": 975}, ZERO, ZERO],
        "asks": [{"price": 182.55, "quantity": 1125}, {"price": 182.6, "quantity": 3000}, ZERO, ZERO, ZERO],
        "ltp": 182.5, "ltq": 75, "open": 170.0, "high": 190.25, "low": 165.8, "prev_close": 171.35,
        "volume": 1843275, "oi": 5321100, "totalbuyqty": 412500, "totalsellqty": 388125,
    }


def test_no_depth_in_rest_uses_one_snapshot_then_skips_rest(mock_api):
    add_route(mock_api, "market.quote", case="ohlc")
    snapshot = FakeSnapshot()
    first = _depth(snapshot)
    second = _depth(snapshot)
    assert len(mock_api.calls) == 1  # learnt: FULL rows carry no depth
    assert snapshot.calls == [(ACCESS_TOKEN, "NSE", "3045", depth.SNAPSHOT_TIMEOUT_SECONDS)] * 2
    assert first == second == {
        "bids": [{"price": 571.75, "quantity": 120}, {"price": 571.7, "quantity": 80}, ZERO, ZERO, ZERO],
        "asks": [{"price": 571.85, "quantity": 60}, {"price": 571.9, "quantity": 300}, {"price": 571.95, "quantity": 10},
                 {"price": 572.0, "quantity": 500}, {"price": 572.05, "quantity": 75}],
        "ltp": 571.8, "ltq": 25, "open": 568.75, "high": 574.0, "low": 567.05, "prev_close": 566.5,
        "volume": 1250000, "oi": 0, "totalbuyqty": 350000, "totalsellqty": 410000,
    }


def test_ohlc_only_server_goes_straight_to_the_feed(mock_api):
    quotes.capabilities.downgrade()
    snapshot = FakeSnapshot()
    _depth(snapshot, "NIFTY", "NSE_INDEX")
    assert len(mock_api.calls) == 0
    assert snapshot.calls[0][1:3] == ("NSE_INDEX", "26000")


def test_rest_failure_falls_back_to_the_feed(mock_api):
    add_route(mock_api, "market.quote", {"status": "false", "message": "busy", "errorcode": "IA500"}, status=500)
    client = get_client(ACCESS_TOKEN)
    client.max_attempts = 1
    snapshot = FakeSnapshot()
    result = depth.get_depth(client, FakeSymbols(), ACCESS_TOKEN, "SBIN", "NSE", snapshot=snapshot)
    assert result["ltp"] == 571.8
    assert sent_json(mock_api.calls[0])["mode"] == "FULL"


def test_expired_session_is_not_hidden_by_the_feed(mock_api):
    add_route(mock_api, "market.quote", case="expired", status=401)
    with pytest.raises(errors.SessionExpired):
        _depth(FakeSnapshot())


def test_snapshot_timeout_propagates(mock_api):
    quotes.capabilities.downgrade()
    with pytest.raises(errors.RequestTimeout):
        _depth(FakeSnapshot(error=errors.RequestTimeout("no depth packet within 5.0s")))


def test_unknown_symbol_raises_before_anything(mock_api):
    snapshot = FakeSnapshot()
    with pytest.raises(errors.UnknownSymbol):
        _depth(snapshot, "NOPE", "NSE")
    assert snapshot.calls == [] and len(mock_api.calls) == 0


def test_pad_levels_truncates_and_reads_strings():
    levels = [{"price": "10.5", "quantity": "7"}] * 7
    assert depth.pad_levels(levels) == [{"price": 10.5, "quantity": 7}] * 5
    assert depth.pad_levels(None) == [ZERO] * 5
