"""The sandbox's OMS over real HTTP: lifecycle, RMS and exchange rejections, books, money (spec 4-6)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from broker.mstock.errors import InputRejected, InsufficientFunds, OrderRejected
from broker.mstock.transport.error_codes import readable_reason

from .conftest import make_client, off_ltp, pin_price
from .sandbox_support import order_body as order

pytestmark = pytest.mark.e2e


def book_row(client, orderid: str) -> dict[str, str]:
    rows = client.call("orders.list") or []
    return next(r for r in rows if r["orderid"] == orderid)


def test_market_order_fills_at_ltp_and_shows_in_every_book(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")

    orderid = sandbox_client.call("orders.place", json=order(ordertag="demo1"))["orderid"]

    row = book_row(sandbox_client, orderid)
    assert (row["status"], row["averageprice"], row["filledshares"], row["ordertag"]) == ("Traded", f"{ltp:g}", "10", "demo1")
    assert (row["tradingsymbol"], row["instrumenttype"], row["optiontype"], row["variety"]) == ("SBIN", "EQUITY", "XX", None)
    trade = sandbox_client.call("orders.trades")[0]
    assert (trade["ORDER_NUMBER"], trade["BUY_SELL"], trade["QUANTITY"], trade["PRICE"]) == (orderid, "Buy", 10, ltp)
    position = sandbox_client.call("portfolio.positions")[0]
    assert (position["symboltoken"], position["netqty"], position["tradingsymbol"], position["producttype"]) == (
        "3045", "10", "", "INTRADAY")


def test_limit_order_rests_then_fills_at_its_price_when_the_market_comes(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    price = off_ltp(ltp, -0.02)
    orderid = sandbox_client.call("orders.place", json=order(ordertype="LIMIT", price=price))["orderid"]
    assert book_row(sandbox_client, orderid)["status"] == "Pending"

    sandbox.state.market.set_ltp("3045", float(price) - 0.5, "NSE")

    row = book_row(sandbox_client, orderid)
    assert (row["status"], row["averageprice"]) == ("Traded", f"{float(price):g}")


def test_stop_order_waits_for_its_trigger(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    trigger, price = off_ltp(ltp, 0.02), off_ltp(ltp, 0.03)
    body = order(variety="STOPLOSS", ordertype="STOPLOSS_LIMIT", price=price, triggerprice=trigger)
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]
    row = book_row(sandbox_client, orderid)
    assert (row["status"], row["ordertype"], row["triggerprice"]) == ("Trigger Pending", "SL", f"{float(trigger):g}")

    sandbox.state.market.set_ltp("3045", float(trigger) + 0.05, "NSE")

    assert book_row(sandbox_client, orderid)["status"] == "Traded"


def test_stop_market_is_echoed_as_sl_m(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    body = order(variety="STOPLOSS", ordertype="STOPLOSS_MARKET", transactiontype="SELL", triggerprice=off_ltp(ltp, -0.02))
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]
    assert book_row(sandbox_client, orderid)["ordertype"] == "SL-M"


def test_docs_stop_loss_spelling_is_refused(sandbox, sandbox_client):
    body = order(variety="STOPLOSS", ordertype="STOP_LOSS", price="800", triggerprice="790")
    with pytest.raises(InputRejected) as caught:
        sandbox_client.call("orders.place", json=body)
    assert "STOPLOSS_LIMIT" in caught.value.message


def test_stop_without_trigger_is_ia400(sandbox, sandbox_client):
    with pytest.raises(InputRejected) as caught:
        sandbox_client.call("orders.place", json=order(variety="STOPLOSS", ordertype="STOPLOSS_MARKET"))
    assert (caught.value.code, caught.value.message) == ("IA400", "Trigger price can not be blank.")


def test_invalid_product_is_the_documented_bare_400(sandbox, sandbox_client):
    with pytest.raises(InputRejected) as caught:
        sandbox_client.call("orders.place", json=order(producttype="CNC"))
    assert caught.value.code == "400" and caught.value.message.startswith("Invalid product.")


def test_token_and_symbol_must_agree(sandbox, sandbox_client):
    with pytest.raises(OrderRejected) as caught:
        sandbox_client.call("orders.place", json=order(symboltoken="22"))
    assert caught.value.http_status == 200 and "ACC-EQ" in caught.value.message


def test_rms_fund_shortfall_allocates_an_order_and_rejects_it(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    body = order(producttype="DELIVERY", quantity=str(int(1_100_000 / ltp)))

    with pytest.raises(InsufficientFunds) as caught:
        sandbox_client.call("orders.place", json=body)

    message = caught.value.message
    assert message.startswith("RMS:") and "FUND LIMIT INSUFFICIENT" in message
    assert readable_reason(message).startswith("insufficient funds: required")
    orderid = message.split(":")[1]
    row = book_row(sandbox_client, orderid)
    assert (row["status"], row["text"]) == ("Rejected", message)


def test_exchange_price_band_rejection_is_only_visible_in_the_book(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")

    orderid = sandbox_client.call("orders.place", json=order(ordertype="LIMIT", price=off_ltp(ltp, -0.25)))["orderid"]

    row = book_row(sandbox_client, orderid)
    assert (row["status"], row["text"]) == ("Rejected", "EXCH:16284:The order price is out of the days price range.")


def test_lot_size_is_enforced_for_derivatives(sandbox, sandbox_client):
    fut = next(r for r in sandbox.state.rows if r["symbol"] == "NIFTY" and r["instrumenttype"] == "FUTIDX")
    body = order(tradingsymbol=fut["name"], symboltoken=fut["token"], exchange="NFO", quantity="10",
                 producttype="CARRYFORWARD")
    with pytest.raises(OrderRejected) as caught:
        sandbox_client.call("orders.place", json=body)
    assert "LOT SIZE 75" in caught.value.message


def test_derivative_rows_use_back_office_names_under_nse(sandbox, sandbox_client):
    fut = next(r for r in sandbox.state.rows if r["symbol"] == "NIFTY" and r["instrumenttype"] == "FUTIDX")
    body = order(tradingsymbol=fut["name"], symboltoken=fut["token"], exchange="NFO", quantity="75",
                 producttype="CARRYFORWARD")

    orderid = sandbox_client.call("orders.place", json=body)["orderid"]

    row = book_row(sandbox_client, orderid)
    expiry = fut["expiry"]
    assert row["tradingsymbol"] == f"NIFTY-{expiry}-FUT"
    assert (row["exchange"], row["instrumenttype"], row["strikeprice"], row["optiontype"]) == ("NSE", "FUTIDX", "-0.01", "XX")
    assert row["expirydate"] == f"{expiry[5:9]}-{expiry[2:5]}-{expiry[:2]}"
    assert orderid[3] == "2"  # derivatives segment digit (spec 4.2)


def test_cancel_needs_the_variety_the_order_was_placed_with(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    body = order(variety="STOPLOSS", ordertype="STOPLOSS_LIMIT", price=off_ltp(ltp, 0.03), triggerprice=off_ltp(ltp, 0.02))
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]

    with pytest.raises(InputRejected):
        sandbox_client.call("orders.cancel", path={"orderid": orderid}, json={"variety": "NORMAL", "orderid": orderid})
    sandbox_client.call("orders.cancel", path={"orderid": orderid}, json={"variety": "STOPLOSS", "orderid": orderid})

    assert book_row(sandbox_client, orderid)["status"] == "Cancelled"
    with pytest.raises(OrderRejected) as caught:
        sandbox_client.call("orders.cancel", path={"orderid": orderid}, json={"variety": "STOPLOSS", "orderid": orderid})
    assert caught.value.code == "RS-00093"


def test_modify_changes_price_and_shows_o_modified(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    body = order(ordertype="LIMIT", price=off_ltp(ltp, -0.03))
    orderid = sandbox_client.call("orders.place", json=body)["orderid"]
    new_price = off_ltp(ltp, -0.04)

    sandbox_client.call("orders.modify", path={"orderid": orderid}, json={**body, "orderid": orderid, "price": new_price})

    row = book_row(sandbox_client, orderid)
    assert (row["status"], row["price"]) == ("O-Modified", new_price)


def test_modify_of_a_closed_order_is_rs0034(sandbox, sandbox_client):
    pin_price(sandbox, "3045")
    orderid = sandbox_client.call("orders.place", json=order())["orderid"]
    with pytest.raises(OrderRejected) as caught:
        sandbox_client.call("orders.modify", path={"orderid": orderid}, json={**order(), "orderid": orderid})
    assert (caught.value.code, caught.value.http_status) == ("RS-0034", 200)


def test_delivery_sell_needs_holdings(sandbox, sandbox_client):
    pin_price(sandbox, "11536")
    body = order(tradingsymbol="TCS-EQ", symboltoken="11536", transactiontype="SELL", producttype="DELIVERY", quantity="1")
    with pytest.raises(OrderRejected) as caught:
        sandbox_client.call("orders.place", json=body)
    assert "HOLDING QUANTITY INSUFFICIENT" in caught.value.message

    held = order(transactiontype="SELL", producttype="DELIVERY", quantity="40")  # SBIN: 40 held
    pin_price(sandbox, "3045")
    orderid = sandbox_client.call("orders.place", json=held)["orderid"]
    assert book_row(sandbox_client, orderid)["status"] == "Traded"


def test_funds_move_with_margin_use_and_realised_pnl(sandbox, sandbox_client):
    ltp = pin_price(sandbox, "3045")
    sandbox_client.call("orders.place", json=order(quantity="100"))
    funds = sandbox_client.call("user.funds")[0]
    assert funds["AMOUNT_UTILIZED"] == f"{100 * ltp * 0.2:.2f}"

    sandbox.state.market.set_ltp("3045", ltp + 10, "NSE")
    sandbox_client.call("orders.place", json=order(quantity="100", transactiontype="SELL"))

    funds = sandbox_client.call("user.funds")[0]
    assert (funds["AMOUNT_UTILIZED"], funds["REALISED_PROFITS"]) == ("0.00", "1000.00")
    assert funds["AVAILABLE_BALANCE"] == "1001000.00"


def test_holdings_show_company_names_and_numbers(sandbox_client):
    rows = sandbox_client.call("portfolio.holdings")
    sbin = next(r for r in rows if r["symboltoken"] == "3045")
    assert (sbin["tradingsymbol"], sbin["quantity"], sbin["exchange"], sbin["product"]) == (
        "STATE BANK OF INDIA", 40, None, None)


def test_ten_threads_placing_at_once_get_distinct_orders(sandbox, sandbox_token):
    pin_price(sandbox, "3045")
    clients = [make_client(sandbox, sandbox_token) for _ in range(10)]

    with ThreadPoolExecutor(10) as pool:
        ids = list(pool.map(lambda c: c.call("orders.place", json=order(quantity="1"))["orderid"], clients * 3))

    assert len(set(ids)) == 30
    assert len(sandbox_client_rows := make_client(sandbox, sandbox_token).call("orders.list")) == 30
    assert {r["status"] for r in sandbox_client_rows} == {"Traded"}


def test_order_updates_reach_the_feed_as_text_frames(sandbox, sandbox_client):
    import json
    import threading

    import websocket

    if sandbox.ws_url is None:
        pytest.skip("the sandbox runs without its feed")
    token = sandbox_client.access_token
    ws = websocket.create_connection(f"{sandbox.ws_url}?API_KEY={sandbox.account.api_key}&ACCESS_TOKEN={token}", timeout=5)
    try:
        ws.send(f"LOGIN:{token}")
        for _ in range(500):  # until the feed has registered the login (no fixed sleep)
            if sandbox.feed.connection_count:
                break
            threading.Event().wait(0.01)
        pin_price(sandbox, "3045")
        orderid = sandbox_client.call("orders.place", json=order(ordertag="ws1"))["orderid"]
        updates = []
        while len(updates) < 3:
            message = ws.recv()
            if isinstance(message, str):
                updates.append(json.loads(message))
    finally:
        ws.close()
    assert [(u["order_status"], u["orderData"]["orderid"], u["orderData"]["status"]) for u in updates] == [
        ("order", orderid, "Pending"), ("order", orderid, "Traded"), ("trade", orderid, "Traded")]


@pytest.mark.parametrize("tag", ["A" * 20, "has space", "dash-ed"])
def test_ordertag_must_be_short_and_alphanumeric(sandbox, sandbox_client, tag):
    with pytest.raises(InputRejected):
        sandbox_client.call("orders.place", json=order(ordertag=tag))
