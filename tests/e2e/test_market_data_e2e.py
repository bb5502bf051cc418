"""End to end: quotes, multi-quotes, depth, history and margin against the embedded sandbox.

Real HTTP over loopback, the real client, the symbol table downloaded from the sandbox's
master, and (for depth via the feed) the sandbox's WebSocket feed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from broker.mstock import host
from broker.mstock.api.data import BrokerData
from broker.mstock.api.margin_api import calculate_margin_api
from broker.mstock.database.master_contract_db import refresh_master
from broker.mstock.market import candles, quotes
from broker.mstock.market.history import today_ist
from broker.mstock.transport.client import get_client

pytestmark = pytest.mark.e2e


class RequestCounter:
    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()

    def __call__(self, response, *args, **kwargs):
        self.paths[response.request.path_url.rsplit("/", 1)[-1]] += 1
        return response


@pytest.fixture
def auth(sandbox, sandbox_token) -> str:
    refresh_master(sandbox_token)
    return sandbox_token


@pytest.fixture
def counter(auth) -> RequestCounter:
    counting = RequestCounter()
    get_client(auth)._session.hooks["response"].append(counting)
    return counting


def _search(text: str, exchange: str, itype: str | None = None, limit: int = 500):
    rows = host.symbols().search(text, exchange, limit=limit)
    return [r for r in rows if itype is None or r.instrumenttype == itype]


def test_quotes_for_equity_index_option_and_currency(sandbox, auth):
    sandbox.state.market.set_ltp("3045", 601.25, "NSE")
    data = BrokerData(auth)
    sbin = data.get_quotes("SBIN", "NSE")
    assert sbin["ltp"] == 601.25
    assert sbin["volume"] > 0 and 0 < sbin["bid"] <= sbin["ask"]
    option = _search("NIFTY", "NFO", "CE")[0]
    currency = _search("USDINR", "CDS")[0]
    for symbol, exchange in (("NIFTY", "NSE_INDEX"), ("SENSEX", "BSE_INDEX"), ("ACC", "BSE"),
                             (option.symbol, "NFO"), (currency.symbol, "CDS")):
        quote = data.get_quotes(symbol, exchange)
        assert quote["ltp"] > 0, (symbol, exchange, quote)
        assert quote["prev_close"] > 0


def test_multiquotes_for_an_option_chain_in_one_call(auth, counter):
    chain = [{"symbol": r.symbol, "exchange": "NFO"} for r in _search("NIFTY", "NFO")[:200]]
    assert len(chain) == 200
    results = BrokerData(auth).get_multiquotes(chain)
    assert counter.paths["quote"] == 1
    assert [r["symbol"] for r in results] == [c["symbol"] for c in chain]
    assert all(r["data"]["ltp"] > 0 for r in results)


def test_multiquotes_across_exchanges_batch_by_the_cap_with_per_symbol_errors(auth, counter):
    wanted = [{"symbol": r.symbol, "exchange": r.exchange} for ex in ("NFO", "NSE", "BFO", "BSE", "CDS")
              for r in _search("A", ex, limit=200)][:600]
    wanted.insert(3, {"symbol": "NOSUCH", "exchange": "NSE"})
    results = BrokerData(auth).get_multiquotes(wanted)
    assert counter.paths["quote"] == -(-(len(wanted) - 1) // quotes.MAX_TOKENS_PER_QUOTE_CALL)
    assert results[3] == {"symbol": "NOSUCH", "exchange": "NSE", "error": "unknown symbol NOSUCH on NSE"}
    assert sum(1 for r in results if "data" in r) == len(wanted) - 1


def test_depth_from_the_full_quote_and_from_the_feed(sandbox, auth):
    data = BrokerData(auth)
    snap = sandbox.state.market.snapshot("3045", "NSE")
    via_rest = data.get_depth("SBIN", "NSE")
    assert [level["price"] for level in via_rest["bids"]] == [p for p, _, _ in snap.bids][:5]
    assert len(via_rest["asks"]) == 5

    if not sandbox.ws_url:
        pytest.skip("the sandbox runs without its feed")
    quotes.capabilities.downgrade()  # as if mStock answered OHLC only: depth must come from the feed
    via_feed = data.get_depth("SBIN", "NSE")
    assert len(via_feed["bids"]) == len(via_feed["asks"]) == 5
    assert via_feed["ltp"] > 0 and via_feed["bids"][0]["price"] > 0
    assert via_feed["totalbuyqty"] > 0


def test_history_of_recent_sessions_and_today(auth, counter):
    today = today_ist()
    start = today - timedelta(days=6)
    frame = BrokerData(auth).get_history("SBIN", "NSE", "5m", start.isoformat(), today)
    days = Counter(datetime.fromtimestamp(int(t), candles.IST).date() for t in frame["timestamp"])
    past_weekdays = [start + timedelta(days=i) for i in range(6) if (start + timedelta(days=i)).weekday() < 5]
    assert [days[d] for d in past_weekdays] == [75] * len(past_weekdays)
    assert counter.paths["intraday"] == 1
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    assert not frame.isna().any().any()
    first_bar = datetime.fromtimestamp(int(frame["timestamp"].iloc[0]), candles.IST)
    assert (first_bar.hour, first_bar.minute) == (9, 15)


def test_daily_and_weekly_history(auth):
    data = BrokerData(auth)
    end = today_ist() - timedelta(days=1)
    start = end - timedelta(days=27)
    daily = data.get_history("RELIANCE", "NSE", "D", start, end)
    weekdays = sum(1 for i in range(28) if (start + timedelta(days=i)).weekday() < 5)
    assert len(daily) == weekdays
    assert set(daily["timestamp"] % 86_400) == {0}  # 00:00 UTC of the IST trading date
    weekly = data.get_history("RELIANCE", "NSE", "W", start, end)
    assert all(datetime.fromtimestamp(int(t), timezone.utc).weekday() == 0 for t in weekly["timestamp"])
    assert weekly["volume"].sum() >= daily["volume"].sum()


def test_margin_for_delivery_and_a_derivatives_basket(auth):
    response, data = calculate_margin_api(
        [{"symbol": "ACC", "exchange": "NSE", "action": "BUY", "quantity": "5", "product": "CNC",
          "pricetype": "LIMIT", "price": "2250", "trigger_price": "0"}],
        auth,
    )
    assert response.status_code == 200, data
    assert data["data"]["total_margin_required"] == pytest.approx(11250.0)

    future = _search("NIFTY", "NFO", "FUT")[0]
    option = _search("NIFTY", "NFO", "CE")[0]
    basket = [
        {"symbol": future.symbol, "exchange": "NFO", "action": "BUY", "quantity": str(future.lotsize),
         "product": "NRML", "pricetype": "MARKET", "price": "0", "trigger_price": "0"},
        {"symbol": option.symbol, "exchange": "NFO", "action": "SELL", "quantity": str(option.lotsize),
         "product": "NRML", "pricetype": "MARKET", "price": "0", "trigger_price": "0"},
    ]
    response, data = calculate_margin_api(basket, auth)
    assert response.status_code == 200, data
    assert data["data"]["span_margin"] > 0 and data["data"]["exposure_margin"] > 0
    assert data["data"]["total_margin_required"] >= data["data"]["span_margin"]


def test_margin_index_leg_is_refused_before_sending(auth, counter):
    response, data = calculate_margin_api(
        [{"symbol": "NIFTY", "exchange": "NSE_INDEX", "action": "BUY", "quantity": "1", "product": "MIS",
          "pricetype": "MARKET", "price": "0", "trigger_price": "0"}],
        auth,
    )
    assert response.status_code == 400
    assert data == {"status": "error", "message": "NIFTY on NSE_INDEX is an index: indices can be quoted but not traded"}
    assert sum(counter.paths.values()) == 0


def test_margin_rejection_with_http_200_is_not_a_success(sandbox, auth):
    sandbox.faults.inject(
        "margins.orders",
        "http_error",
        status=200,
        body={"status": "false", "message": "Invalid token", "errorcode": "IA400", "data": None},
    )
    response, data = calculate_margin_api(
        [{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1", "product": "MIS",
          "pricetype": "MARKET", "price": "0", "trigger_price": "0"}],
        auth,
    )
    assert response.status_code == 400
    assert data == {"status": "error", "message": "Invalid token [IA400]", "code": "IA400"}
