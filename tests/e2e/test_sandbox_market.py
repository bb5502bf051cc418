"""Quotes, historical and intraday candles from the sandbox (spec 8)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import requests

from broker.mstock.errors import InputRejected
from mstock_sandbox import SandboxConfig, SandboxServer
from mstock_sandbox.clock import IST
from mstock_sandbox.master import generate_master

from .conftest import make_client

pytestmark = pytest.mark.e2e


def test_ohlc_quote_with_index_spot_and_unfetched_token(sandbox_client):
    data = sandbox_client.call(
        "market.quote", json={"mode": "OHLC", "exchangeTokens": {"NSE": ["3045", "26000", "424242"], "BSE": ["500410"]}}
    )

    fetched = {row["symbolToken"]: row for row in data["fetched"]}
    assert set(fetched) == {"3045", "26000", "500410"}
    assert fetched["3045"]["tradingSymbol"] == "SBIN-EQ"
    assert {"ltp", "open", "high", "low", "close"} <= fetched["26000"].keys()
    assert data["unfetched"] == [
        {"exchange": "NSE", "symbolToken": "424242", "message": "Invalid symbol token", "errorCode": "IA404"}
    ]


def test_ltp_mode_has_no_ohlc_and_full_mode_has_depth(sandbox_client):
    ltp = sandbox_client.call("market.quote", json={"mode": "LTP", "exchangeTokens": {"NSE": ["3045"]}})["fetched"][0]
    full = sandbox_client.call("market.quote", json={"mode": "FULL", "exchangeTokens": {"NSE": ["3045"]}})["fetched"][0]

    assert set(ltp) == {"exchange", "tradingSymbol", "symbolToken", "ltp"}
    assert len(full["depth"]["buy"]) == 5 and len(full["depth"]["sell"]) == 5
    assert full["depth"]["buy"][0]["price"] < full["ltp"] < full["depth"]["sell"][0]["price"]


def test_currency_is_quoted_under_nse_not_cds(sandbox, sandbox_client):
    usdinr = next(r for r in sandbox.state.rows if r["instrumenttype"] == "FUTCUR" and r["symbol"] == "USDINR")
    data = sandbox_client.call("market.quote", json={"mode": "LTP", "exchangeTokens": {
        "NSE": [usdinr["token"]], "CDS": [usdinr["token"]]}})
    assert [r["symbolToken"] for r in data["fetched"]] == [usdinr["token"]]
    assert [r["exchange"] for r in data["unfetched"]] == ["CDS"]


def test_quote_token_cap(sandbox_client, sandbox):
    tokens = [str(100000 + i) for i in range(sandbox.config.quote_token_cap + 1)]
    with pytest.raises(InputRejected):
        sandbox_client.call("market.quote", json={"mode": "LTP", "exchangeTokens": {"NSE": tokens}})


def test_quote_accepts_get_with_body(sandbox, sandbox_token):
    response = requests.get(
        f"{sandbox.base_url}/openapi/typeb/instruments/quote",
        json={"mode": "LTP", "exchangeTokens": {"NSE": ["3045"]}},
        headers={"X-Mirae-Version": "1", "X-PrivateKey": sandbox.account.api_key, "Authorization": f"Bearer {sandbox_token}"},
        timeout=5,
    )
    assert response.json()["data"]["fetched"][0]["symbolToken"] == "3045"


def test_daily_history_uses_the_iso_plus05_stamp_and_weekdays_only(sandbox_client):
    body = {"exchange": "NSE", "symboltoken": "3045", "interval": "ONE_DAY", "fromdate": "2025-01-01", "todate": "2025-01-12"}
    candles = sandbox_client.call("market.historical", json=body)["candles"]

    assert [c[0] for c in candles] == [f"2025-01-{d:02d}T00:00:00+05" for d in (1, 2, 3, 6, 7, 8, 9, 10)]
    assert all(c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4]) and c[5] > 0 for c in candles)


def test_minute_history_is_ascending_and_repeatable_across_date_formats(sandbox_client):
    first = sandbox_client.call("market.historical", json={
        "exchange": "NSE", "symboltoken": "22", "interval": "FIVE_MINUTE",
        "fromdate": "2025-02-03 09:15", "todate": "2025-02-03 15:30"})["candles"]
    second = sandbox_client.call("market.historical", json={
        "exchange": "NSE", "symboltoken": "22", "interval": "FIVE_MINUTE",
        "fromdate": "03-02-2025", "todate": "03-02-2025"})["candles"]

    assert first == second and len(first) == 75
    assert (first[0][0], first[-1][0]) == ("2025-02-03 09:15", "2025-02-03 15:25")


def test_daily_bar_agrees_with_its_minute_bars(sandbox_client):
    day = sandbox_client.call("market.historical", json={
        "exchange": "NSE", "symboltoken": "2885", "interval": "ONE_DAY", "fromdate": "2025-03-04", "todate": "2025-03-04"})
    minutes = sandbox_client.call("market.historical", json={
        "exchange": "NSE", "symboltoken": "2885", "interval": "ONE_MINUTE",
        "fromdate": "2025-03-04 09:15", "todate": "2025-03-04 15:29"})["candles"]
    _, o, h, low, c, v = day["candles"][0]
    assert (o, h, low, c) == (minutes[0][1], max(m[2] for m in minutes), min(m[3] for m in minutes), minutes[-1][4])
    assert v == sum(m[5] for m in minutes)


def test_history_is_truncated_to_the_bar_limit_and_says_so(sandbox, sandbox_client):
    reply = sandbox_client.call("market.historical", full=True, json={
        "exchange": "NSE", "symboltoken": "3045", "interval": "ONE_MINUTE",
        "fromdate": "2025-01-06 09:15", "todate": "2025-01-10 15:30"})

    assert len(reply.data["candles"]) == sandbox.config.history_bar_limit
    assert reply.data["candles"][0][0] == "2025-01-06 09:15"
    assert "first 1000" in reply.message


def test_history_never_includes_today(sandbox, sandbox_client):
    today = sandbox.state.clock().date()
    candles = sandbox_client.call("market.historical", json={
        "exchange": "NSE", "symboltoken": "3045", "interval": "ONE_DAY",
        "fromdate": (today - timedelta(days=10)).isoformat(), "todate": today.isoformat()})["candles"]
    assert candles and all(not c[0].startswith(today.isoformat()) for c in candles)


def test_history_rejects_an_unknown_interval(sandbox_client):
    with pytest.raises(InputRejected):
        sandbox_client.call("market.historical", json={
            "exchange": "NSE", "symboltoken": "3045", "interval": "DAY", "fromdate": "2025-01-01", "todate": "2025-01-02"})


def test_intraday_is_newest_first_with_numeric_exchange_codes(sandbox, sandbox_client):
    candles = sandbox_client.call("market.intraday", json={"exchange": "1", "symboltoken": "3045", "interval": "FIFTEEN_MINUTE"})["candles"]
    stamps = [c[0] for c in candles]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[-1] == f"{sandbox.state.clock().date().isoformat()} 09:15"

    usdinr = next(r for r in sandbox.state.rows if r["instrumenttype"] == "FUTCUR" and r["symbol"] == "USDINR")
    assert sandbox_client.call("market.intraday", json={"exchange": "3", "symboltoken": usdinr["token"], "interval": "ONE_HOUR"})["candles"]
    with pytest.raises(InputRejected):
        sandbox_client.call("market.intraday", json={"exchange": "1", "symboltoken": usdinr["token"], "interval": "ONE_HOUR"})


def test_intraday_follows_the_clock_in_real_hours_mode():
    now = datetime(2025, 1, 15, 10, 2, tzinfo=IST)  # a Wednesday, 47 minutes into the session
    config = SandboxConfig(port=0, clock=lambda: now, always_open=False, start_feed=False, enforce_rate_limits=False,
                           master_rows=generate_master(0, today=now.date()))
    with SandboxServer(config) as server:
        client = make_client(server, server.issue_session().access_token)
        candles = client.call("market.intraday", json={"exchange": "1", "symboltoken": "3045", "interval": "FIVE_MINUTE"})["candles"]
        history = client.call("market.historical", json={"exchange": "NSE", "symboltoken": "3045", "interval": "ONE_DAY",
                                                          "fromdate": "2025-01-13", "todate": "2025-01-15"})["candles"]
    assert [c[0] for c in candles][:2] == ["2025-01-15 10:00", "2025-01-15 09:55"] and len(candles) == 10
    assert [c[0][:10] for c in history] == ["2025-01-13", "2025-01-14"]
    assert date(2025, 1, 15).weekday() == 2
