"""Order and trade updates on the sandbox's feed: one text frame per OMS state change, in
order, on every socket of the account, shaped like mStock's (spec 11.4)."""

from __future__ import annotations

import pytest

from broker.mstock.errors import OrderRejected

from .conftest import make_client, off_ltp, pin_price
from .sandbox_support import FeedListener, order_body, running_sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def listener(sandbox, sandbox_token):
    feed = FeedListener(sandbox, sandbox_token)
    yield feed
    feed.close()


def summary(frames):
    """(kind, status, filledshares) per frame, plus the fill size of trade frames."""
    out = []
    for frame in frames:
        row = frame["orderData"]
        entry = (frame["order_status"], row["status"], row["filledshares"])
        out.append(entry + ((row["fillsize"],) if frame["order_status"] == "trade" else ()))
    return out


def book_row(client, orderid):
    return next(r for r in client.call("orders.list") if r["orderid"] == orderid)


def test_a_limit_order_open_partly_filled_then_complete(sandbox, sandbox_client, listener):
    ltp = pin_price(sandbox, "3045")
    price = off_ltp(ltp, -0.02)
    orderid = sandbox_client.call("orders.place", json=order_body(ordertype="LIMIT", price=price, ordertag="life1"))["orderid"]

    sandbox.fill(orderid, quantity=4)
    sandbox.fill(orderid)

    frames = listener.wait_texts(5)
    assert summary(frames) == [
        ("order", "Pending", "0"),
        ("order", "Pending", "4"), ("trade", "Pending", "4", "4"),
        ("order", "Traded", "10"), ("trade", "Traded", "10", "6"),
    ]
    # Each order frame is the book row exactly as GET /orders showed it at that moment.
    assert frames[-2]["orderData"] == book_row(sandbox_client, orderid)
    first_fill, last_fill = frames[2]["orderData"], frames[4]["orderData"]
    assert (first_fill["fillprice"], first_fill["ordertag"], first_fill["orderid"]) == (f"{float(price):g}", "life1", orderid)
    assert first_fill["fillid"] != last_fill["fillid"]
    assert last_fill["filltime"] == book_row(sandbox_client, orderid)["filltime"]
    assert [t.quantity for t in sandbox.state.trades()] == [4, 6]


def test_a_stop_order_waits_is_triggered_then_fills(sandbox, sandbox_client, listener):
    ltp = pin_price(sandbox, "3045")
    trigger, price = off_ltp(ltp, 0.02), off_ltp(ltp, 0.03)
    body = order_body(variety="STOPLOSS", ordertype="STOPLOSS_LIMIT", price=price, triggerprice=trigger)
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]

    sandbox.trigger(orderid)  # the LTP is below the limit: the triggered order fills at once

    assert summary(listener.wait_texts(4)) == [
        ("order", "Trigger Pending", "0"), ("order", "O-Pending", "0"),
        ("order", "Traded", "10"), ("trade", "Traded", "10", "10"),
    ]


def test_a_price_move_triggers_and_fills_a_stop_market_order(sandbox, sandbox_client, listener):
    ltp = pin_price(sandbox, "3045")
    trigger = off_ltp(ltp, -0.02)
    body = order_body(variety="STOPLOSS", ordertype="STOPLOSS_MARKET", transactiontype="SELL", triggerprice=trigger)
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]

    sandbox.state.market.set_ltp("3045", float(trigger) - 0.5, "NSE")

    frames = listener.wait_texts(4)
    assert summary(frames) == [
        ("order", "Trigger Pending", "0"), ("order", "O-Pending", "0"),
        ("order", "Traded", "10"), ("trade", "Traded", "10", "10"),
    ]
    assert {(f["orderData"]["orderid"], f["orderData"]["ordertype"]) for f in frames} == {(orderid, "SL-M")}
    assert frames[3]["orderData"]["fillprice"] == f"{float(trigger) - 0.5:g}"


def test_modified_then_cancelled(sandbox, sandbox_client, listener):
    ltp = pin_price(sandbox, "3045")
    body = order_body(ordertype="LIMIT", price=off_ltp(ltp, -0.02))
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]
    new_price = off_ltp(ltp, -0.03)
    sandbox_client.call("orders.modify", path={"orderid": orderid}, json={**body, "orderid": orderid, "price": new_price})
    sandbox_client.call("orders.cancel", path={"orderid": orderid}, json={"variety": "NORMAL", "orderid": orderid})

    frames = listener.wait_texts(3)
    assert [(f["orderData"]["status"], f["orderData"]["price"]) for f in frames] == [
        ("Pending", body["price"]), ("O-Modified", new_price), ("Cancelled", new_price)]
    assert frames[2]["orderData"]["cancelsize"] == "10"


def test_cancel_all_announces_every_order(sandbox, sandbox_client, listener):
    ltp = pin_price(sandbox, "3045")
    ids = [sandbox_client.call("orders.place", json=order_body(ordertype="LIMIT", price=off_ltp(ltp, -0.02)))["orderid"]
           for _ in range(2)]
    sandbox_client.call("orders.cancel_all")
    frames = listener.wait_texts(4)
    assert [(f["orderData"]["orderid"], f["orderData"]["status"]) for f in frames] == [
        (ids[0], "Pending"), (ids[1], "Pending"), (ids[0], "O-Cancelled"), (ids[1], "O-Cancelled")]


def test_rms_rejection_by_rule_carries_mstocks_reason(sandbox, sandbox_client, listener):
    pin_price(sandbox, "3045")
    sandbox.reject_orders("rms", symbol="SBIN-EQ", quantity=13, times=1)

    with pytest.raises(OrderRejected) as caught:
        sandbox_client.call("orders.place", json=order_body(quantity="13"))
    orderid = caught.value.message.split(":")[1]
    sandbox_client.call("orders.place", json=order_body(quantity="13"))  # the rule was for one order only

    frames = listener.wait_texts(4)
    rejected = frames[0]["orderData"]
    assert (frames[0]["order_status"], rejected["orderid"], rejected["status"]) == ("order", orderid, "Rejected")
    assert rejected["text"] == caught.value.message
    assert rejected["text"].startswith(f"RMS:{orderid}:NSE,EQUITY,3045,SBIN,INTRADAY,")
    assert rejected["text"].endswith(",SECURITY IS NOT ALLOWED FOR TRADING")
    assert caught.value.code == "RS-0018"
    assert [f["orderData"]["status"] for f in frames[1:]] == ["Pending", "Traded", "Traded"]
    assert sandbox.state.order(orderid).status == "Rejected"


def test_exchange_rejections_by_rule_and_by_price_band(sandbox, sandbox_client, listener):
    ltp = pin_price(sandbox, "3045")
    sandbox.reject_orders("exchange", ordertag="exch1", reason="EXCH:16388:Scrip is suspended.")
    by_rule = sandbox_client.call("orders.place", json=order_body(ordertag="exch1"))["orderid"]  # success to the caller
    by_band = sandbox_client.call("orders.place", json=order_body(ordertype="LIMIT", price=off_ltp(ltp, -0.25)))["orderid"]

    frames = listener.wait_texts(2)
    assert [(f["orderData"]["orderid"], f["orderData"]["status"], f["orderData"]["text"]) for f in frames] == [
        (by_rule, "Rejected", "EXCH:16388:Scrip is suspended."),
        (by_band, "Rejected", "EXCH:16284:The order price is out of the days price range."),
    ]
    assert book_row(sandbox_client, by_rule)["status"] == "Rejected"


def test_every_socket_of_the_account_gets_the_frames(sandbox, sandbox_client, listener, sandbox_token):
    second = FeedListener(sandbox, sandbox.issue_session().access_token)
    try:
        pin_price(sandbox, "3045")
        orderid = sandbox_client.call("orders.place", json=order_body())["orderid"]
        for feed in (listener, second):
            assert [(f["order_status"], f["orderData"]["orderid"]) for f in feed.wait_texts(3)] == [
                ("order", orderid), ("order", orderid), ("trade", orderid)]
    finally:
        second.close()


def test_legacy_frame_shape():
    with running_sandbox(order_frame_shape="legacy") as server:
        token = server.issue_session().access_token
        feed = FeedListener(server, token)
        try:
            client = make_client(server, token)
            orderid = client.call("orders.place", json=order_body(ordertag="old1"))["orderid"]
            frames = feed.wait_texts(3)
        finally:
            feed.close()
    assert [(f["type"], f["data"]["orderid"], f["data"]["status"]) for f in frames] == [
        ("order", orderid, "Pending"), ("order", orderid, "Traded"), ("trade", orderid, "Traded")]
    assert all(set(f) == {"type", "data"} for f in frames)
    assert frames[2]["data"]["ordertag"] == "old1"


def test_without_ordertag_echo_the_book_and_frames_omit_it_but_details_keep_it():
    with running_sandbox(ordertag_echo=False) as server:
        token = server.issue_session().access_token
        feed = FeedListener(server, token)
        try:
            client = make_client(server, token)
            orderid = client.call("orders.place", json=order_body(ordertag="tag7"))["orderid"]
            frames = feed.wait_texts(3)
            row = book_row(client, orderid)
            details = client.call("orders.details", json={"order_no": orderid})
        finally:
            feed.close()
    assert "ordertag" not in row and row["orderid"] == orderid
    assert all("ordertag" not in f["orderData"] for f in frames)
    assert details[0]["ordertag"] == "tag7"
    assert server.state.order(orderid).ordertag == "tag7"


def test_a_configured_partial_fill_status():
    with running_sandbox(partial_fill_status="Partially Traded") as server:
        token = server.issue_session().access_token
        client = make_client(server, token)
        ltp = pin_price(server, "3045")
        orderid = client.call("orders.place", json=order_body(ordertype="LIMIT", price=off_ltp(ltp, -0.02)))["orderid"]
        server.fill(orderid, quantity=3)
        row = book_row(client, orderid)
        view = server.state.order(orderid)
        # still working: it can be cancelled, and the rest is cancelled
        client.call("orders.cancel", path={"orderid": orderid}, json={"variety": "NORMAL", "orderid": orderid})
        after = book_row(client, orderid)
    assert (row["status"], row["filledshares"], view.pending, view.is_open) == ("Partially Traded", "3", 7, True)
    assert (after["status"], after["filledshares"], after["cancelsize"]) == ("Cancelled", "3", "7")


def test_fill_and_trigger_refuse_orders_that_cannot_take_them(sandbox, sandbox_client):
    pin_price(sandbox, "3045")
    done = sandbox_client.call("orders.place", json=order_body())["orderid"]
    with pytest.raises(ValueError, match="not open"):
        sandbox.fill(done)
    with pytest.raises(ValueError, match="not waiting for a trigger"):
        sandbox.trigger(done)
    with pytest.raises(ValueError, match="unknown"):
        sandbox.fill("0000")
