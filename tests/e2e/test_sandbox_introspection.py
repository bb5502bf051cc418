"""The read-only views ``verify`` and tests use to check a client against the sandbox."""

from __future__ import annotations

import pytest

from broker.mstock.errors import OrderRejected

from .conftest import off_ltp, pin_price
from .sandbox_support import FeedListener, order_body

pytestmark = pytest.mark.e2e


def test_orders_trades_and_positions_as_the_sandbox_holds_them(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    bought = sandbox_client.call("orders.place", json=order_body(ordertag="v1"))["orderid"]
    resting = sandbox_client.call("orders.place", json=order_body(ordertype="LIMIT", price=off_ltp(ltp, 0.02),
                                                                  transactiontype="SELL", quantity="4"))["orderid"]
    sandbox.reject_orders("rms", quantity=7)
    with pytest.raises(OrderRejected):
        sandbox_client.call("orders.place", json=order_body(quantity="7"))

    orders = sandbox.state.orders()
    assert [(o.orderid, o.status, o.filled, o.pending, o.is_open) for o in orders[:2]] == [
        (bought, "Traded", 10, 0, False), (resting, "Pending", 0, 4, True)]
    rejected = orders[2]
    assert (rejected.status, rejected.is_open, rejected.quantity) == ("Rejected", False, 7)
    assert rejected.text.endswith("SECURITY IS NOT ALLOWED FOR TRADING")
    first = sandbox.state.order(bought)
    assert (first.tradingsymbol, first.token, first.exchange, first.side, first.product, first.ordertag) == (
        "SBIN-EQ", "3045", "NSE", "BUY", "INTRADAY", "v1")
    assert first.average_price == ltp
    assert sandbox.state.order("nope") is None

    (trade,) = sandbox.state.trades()
    assert (trade.orderid, trade.quantity, trade.price, trade.tradingsymbol) == (bought, 10, ltp, "SBIN-EQ")
    (position,) = sandbox.state.positions()
    assert (position.tradingsymbol, position.product, position.net_quantity, position.buy_average) == (
        "SBIN-EQ", "INTRADAY", 10, ltp)
    assert {(h.tradingsymbol, h.quantity) for h in sandbox.state.holdings()} == {
        ("SBIN-EQ", 40), ("IDEA-EQ", 500), ("WIPRO-EQ", 25)}

    # views are copies: later changes do not reach them
    sandbox.fill(resting)
    assert orders[1].status == "Pending" and sandbox.state.order(resting).status == "Traded"


def test_prices_and_what_the_feed_sent(sandbox, sandbox_token):
    assert sandbox.state.ltp("3045", "NSE") == sandbox.state.market.snapshot("3045", "NSE").ltp
    price = sandbox.state.market.set_ltp("3045", 799.95, "NSE").ltp
    assert (sandbox.state.ltp("3045", "NSE"), sandbox.state.ltp("3045", 1), sandbox.state.quote("3045").ltp) == (
        price, price, price)
    assert sandbox.state.quote("99999999") is None
    with pytest.raises(KeyError, match="99999999"):
        sandbox.state.ltp("99999999")
    feed = FeedListener(sandbox, sandbox_token)
    try:
        feed.subscribe(2, 1, ["3045"])
        feed.wait_binaries(1)
    finally:
        feed.close()
    sent = sandbox.feed.last_published("3045", 1)
    assert (sent.mode, sent.snapshot.ltp, sent.snapshot.close) == (2, price, sandbox.state.quote("3045").close)


def test_expire_sessions_ends_every_session(sandbox, sandbox_client):
    from broker.mstock.errors import SessionExpired

    sandbox.expire_sessions()
    with pytest.raises(SessionExpired):
        sandbox_client.call("orders.list")
