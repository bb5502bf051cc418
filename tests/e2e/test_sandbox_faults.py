"""Fault injection, rate limits and the session log of the sandbox, seen through the client."""

from __future__ import annotations

import pytest

from broker.mstock.errors import OutcomeUnknown, RateLimited, RequestTimeout, ServerUnavailable, SessionExpired
from broker.mstock.transport.client import Timeouts

from .conftest import make_client, pin_price
from .test_sandbox_orders import order

pytestmark = pytest.mark.e2e


def test_dropped_place_response_executes_the_order_but_the_client_never_hears(sandbox, sandbox_client):
    pin_price(sandbox, "3045")
    sandbox.faults.inject("orders.place", "drop_response")

    with pytest.raises(OutcomeUnknown):
        sandbox_client.call("orders.place", json=order(ordertag="lost1"))

    rows = sandbox_client.call("orders.list")
    assert [(r["ordertag"], r["status"]) for r in rows] == [("lost1", "Traded")]
    assert "[response dropped]" in sandbox.session_log()[-2]


def test_gateway_html_page_is_retried_for_reads(sandbox, sandbox_client):
    sandbox.faults.inject("orders.list", "html", status=502)

    assert sandbox_client.call("orders.list") is None
    assert any("HTML 502 Bad Gateway" in line for line in sandbox.session_log())


def test_gateway_page_after_an_executed_write_is_outcome_unknown(sandbox, sandbox_client):
    pin_price(sandbox, "3045")
    sandbox.faults.inject("orders.place", "html", status=504, execute=True)

    with pytest.raises(OutcomeUnknown):
        sandbox_client.call("orders.place", json=order(ordertag="gw1"))

    assert sandbox_client.call("orders.list")[0]["ordertag"] == "gw1"


def test_http_error_with_a_json_body(sandbox, sandbox_client):
    sandbox.faults.inject("user.funds", "http_error", status=500, times=None)
    client = make_client(sandbox, sandbox_client.access_token, max_attempts=2)

    with pytest.raises(ServerUnavailable) as caught:
        client.call("user.funds")
    assert (caught.value.http_status, caught.value.code) == (500, "IA500")


def test_latency_beyond_the_client_timeout(sandbox, sandbox_client):
    sandbox.faults.inject("portfolio.positions", "latency", seconds=1.0)
    client = make_client(sandbox, sandbox_client.access_token, max_attempts=1, timeouts=Timeouts(trading=0.2))

    with pytest.raises(RequestTimeout):
        client.call("portfolio.positions")


def test_expired_session(sandbox, sandbox_client):
    sandbox.faults.inject("orders.trades", "expire_session")

    with pytest.raises(SessionExpired):
        sandbox_client.call("orders.trades")
    with pytest.raises(SessionExpired):
        sandbox_client.call("orders.list")  # the session stays dead


def test_injected_rate_limit(sandbox, sandbox_client):
    sandbox.faults.inject("market.quote", "rate_limit")
    client = make_client(sandbox, sandbox_client.access_token, max_attempts=1)

    with pytest.raises(RateLimited) as caught:
        client.call("market.quote", json={"mode": "LTP", "exchangeTokens": {"NSE": ["3045"]}})
    assert (caught.value.http_status, caught.value.code) == (429, "IA429")


def test_data_api_limit_is_enforced_per_second(sandbox, sandbox_client):
    sandbox.set_rate_limits(True)
    client = make_client(sandbox, sandbox_client.access_token, max_attempts=1)
    body = {"exchange": "1", "symboltoken": "3045", "interval": "ONE_HOUR"}

    client.call("market.intraday", json=body)
    with pytest.raises(RateLimited):
        client.call("market.intraday", json=body)


def test_order_api_limit_allows_thirty_a_second(sandbox, sandbox_client):
    sandbox.set_rate_limits(True)
    client = make_client(sandbox, sandbox_client.access_token, max_attempts=1)
    ltp = pin_price(sandbox, "3045")
    price = f"{round(ltp * 0.97 / 0.05) * 0.05:.2f}"
    limit = order(ordertype="LIMIT", price=price, quantity="1")

    accepted = 0
    with pytest.raises(RateLimited):
        for _ in range(40):
            client.call("orders.place", json=limit)
            accepted += 1
    assert accepted == 30


def test_unknown_fault_kind_or_route_is_refused(sandbox):
    with pytest.raises(ValueError):
        sandbox.faults.inject("orders.place", "meteor")
    with pytest.raises(ValueError):
        sandbox.faults.inject("orders.teleport", "latency")


def test_session_log_is_readable_and_holds_no_secret(sandbox):
    import pyotp

    from broker.mstock.api.auth_api import authenticate_with_totp

    code = pyotp.TOTP(sandbox.account.totp_secret).now()
    token, feed, error = authenticate_with_totp(sandbox.account.password, code)
    assert error is None
    client = make_client(sandbox, token)
    pin_price(sandbox, "3045")
    orderid = client.call("orders.place", json=order(ordertag="logme"))["orderid"]

    text = "\n".join(sandbox.session_log())
    assert f"placed {orderid} BUY 10 SBIN-EQ MARKET -> Traded tag=logme" in text
    assert "auth.verify_totp" in text and "session opened (TOTP)" in text
    for secret in (token, feed, sandbox.account.api_key, sandbox.account.password, sandbox.account.totp_secret, code):
        assert secret not in text


def test_ip_whitelist_mismatch_is_ia403(sandbox, sandbox_client):
    from broker.mstock.errors import ApiKeyRejected

    sandbox.faults.inject("orders.place", "ip_not_whitelisted")
    with pytest.raises(ApiKeyRejected) as caught:
        sandbox_client.call("orders.place", json=order())
    assert "IP Address" in caught.value.message and caught.value.code == "IA403"
    assert sandbox_client.call("orders.list") is None  # nothing was placed
