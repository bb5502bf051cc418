"""Smart orders (contract 4.2, 15; D1, D2), OpenAlgo's static checks, and concurrent placement."""

from __future__ import annotations

import json
import py_compile
import re
import threading
from pathlib import Path

import pytest

from broker.mstock.api import order_api
from broker.mstock.orders import positions as position_cache
from broker.mstock.orders.smart import decide, parse_position_size

from ..helpers import ACCESS_TOKEN, add_route, sent_json
from .order_support import PLACED, position_row, positions

pytestmark = pytest.mark.usefixtures("fast_reconcile")

ORDER_API = Path(order_api.__file__)

# OpenAlgo's rules table (test/test_smartorder_logic.py SPEC_TABLE): action, qty, position_size, current -> result
SPEC_TABLE = [
    ("BUY", 100, 0, 0, ("BUY", 100)),
    ("BUY", 100, 100, -100, ("BUY", 200)),
    ("BUY", 100, 100, 100, (None, 0)),
    ("BUY", 100, 200, 100, ("BUY", 100)),
    ("SELL", 100, 0, 0, ("SELL", 100)),
    ("SELL", 100, -100, 100, ("SELL", 200)),
    ("SELL", 100, -100, -100, (None, 0)),
    ("SELL", 100, -200, -100, ("SELL", 100)),
    ("BUY", 5, 0, 5, ("SELL", 5)),
    ("SELL", 5, 0, -5, ("BUY", 5)),
    ("BUY", 0, 0, 0, (None, 0)),
    ("BUY", 0, 100, 100, (None, 0)),
    ("SELL", 0, 50, 0, ("BUY", 50)),
    ("BUY", 0, -50, 0, ("SELL", 50)),
]


@pytest.mark.parametrize("action,qty,size,current,expected", SPEC_TABLE)
def test_rules_table(action, qty, size, current, expected):
    assert decide(action, qty, size, current) == expected


@pytest.mark.parametrize("raw,expected", [(0, 0), ("0", 0), ("-75", -75), (150.0, 150), ("150.0", 150)])
def test_position_size_parsing(raw, expected):
    assert parse_position_size(raw) == expected


def smart(**changes):
    data = {"apikey": "oa", "strategy": "s", "symbol": "NIFTY28NOV24FUT", "exchange": "NFO", "action": "BUY",
            "quantity": 25, "position_size": 50, "pricetype": "MARKET", "product": "NRML", "price": 0,
            "trigger_price": 0, "disclosed_quantity": 0}
    data.update(changes)
    return data


def nifty_future(net: int, product: str = "CARRYFORWARD"):
    """A NIFTY future position as mStock reports it: under NSE with FUTIDX (spec 5.1)."""
    return position_row(symboltoken="35001", instrumenttype="FUTIDX", producttype=product, netqty=str(net))


def placed(mock_api) -> list[dict]:
    return [sent_json(c) for c in mock_api.calls if c.request.method == "POST" and c.request.url.endswith("/orders/regular")]


def test_fno_position_reported_under_nse_is_found(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(25)))
    add_route(mock_api, "orders.place", PLACED)
    res, body, orderid = order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)
    assert (res.status, orderid) == (200, "1191241106101")
    [sent] = placed(mock_api)
    assert (sent["transactiontype"], sent["quantity"], sent["exchange"], sent["producttype"]) == (
        "BUY", "25", "NFO", "CARRYFORWARD")


def test_exit_of_an_fno_position(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(-75, product="MARGIN")))
    add_route(mock_api, "orders.place", PLACED)
    res, _, _ = order_api.place_smartorder_api(smart(position_size=0, action="SELL"), ACCESS_TOKEN)
    [sent] = placed(mock_api)
    assert (res.status, sent["transactiontype"], sent["quantity"]) == (200, "BUY", "75")


def test_position_in_another_product_does_not_count(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(50, product="INTRADAY")))
    add_route(mock_api, "orders.place", PLACED)
    order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)
    [sent] = placed(mock_api)
    assert (sent["transactiontype"], sent["quantity"]) == ("BUY", "50")


def test_same_token_on_another_segment_does_not_count(mock_api, symbols):
    # 11536 is TCS on NSE and USDINR on CDS: a currency position is not a TCS position.
    add_route(mock_api, "portfolio.positions", positions(
        position_row(symboltoken="11536", instrumenttype="FUTCUR", producttype="INTRADAY", netqty="10")))
    add_route(mock_api, "orders.place", PLACED)
    order_api.place_smartorder_api(smart(symbol="TCS", exchange="NSE", product="MIS", quantity=10, position_size=10),
                                   ACCESS_TOKEN)
    [sent] = placed(mock_api)
    assert (sent["tradingsymbol"], sent["transactiontype"], sent["quantity"]) == ("TCS-EQ", "BUY", "10")


def test_unreadable_row_with_the_same_token_is_an_error_never_flat(mock_api, symbols):
    # A row on this token whose instrument type no table knows may be this very position:
    # reading it as "flat" would buy the whole target again.
    add_route(mock_api, "portfolio.positions", positions(
        position_row(symboltoken="35001", instrumenttype="FUTNEW", producttype="CARRYFORWARD", netqty="50")))
    res, body, orderid = order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)
    assert (res.status, orderid) == (502, None)
    assert body["message"] == ("position row for token 35001 on NSE cannot be read (unknown mStock instrument type "
                               "'FUTNEW'); refusing to assume it is not NIFTY28NOV24FUT on NFO")
    assert placed(mock_api) == []


def test_matched_position_is_a_no_op(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(50)))
    res, body, orderid = order_api.place_smartorder_api(smart(position_size="50"), ACCESS_TOKEN)
    assert (res, orderid, body["status"]) == (None, None, "success")
    assert "No action needed" in body["message"]
    assert placed(mock_api) == []


def test_ui_close_position_shape(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(25)))
    add_route(mock_api, "orders.place", PLACED)
    ui = {"symbol": "NIFTY28NOV24FUT", "exchange": "NFO", "product": "NRML", "strategy": "UI Exit Position",
          "quantity": "0", "position_size": "0", "price": "0", "trigger_price": "0", "disclosed_quantity": "0",
          "pricetype": "MARKET", "action": "BUY"}
    res, _, orderid = order_api.place_smartorder_api(ui, ACCESS_TOKEN)
    [sent] = placed(mock_api)
    assert (res.status, orderid, sent["transactiontype"], sent["quantity"]) == (200, "1191241106101", "SELL", "25")


def test_failed_position_fetch_is_an_error_never_flat(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", case="expired", status=401)
    res, body, orderid = order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)
    assert (res.status, orderid, body["status"]) == (401, None, "error")
    assert placed(mock_api) == []


def test_cache_is_used_within_a_second_and_invalidated_after_placing(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(0)))
    add_route(mock_api, "portfolio.positions", positions(nifty_future(50)))
    add_route(mock_api, "orders.place", PLACED)
    order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)  # reads 0, buys 50
    second = order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)  # re-reads: 50, nothing to do
    assert second[2] is None and "No action needed" in second[1]["message"]
    third = order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)  # cached
    assert "No action needed" in third[1]["message"]
    reads = [c for c in mock_api.calls if c.request.url.endswith("/portfolio/positions")]
    assert (len(reads), len(placed(mock_api))) == (2, 1)


def test_cache_is_invalidated_even_when_placing_fails(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(0)))
    add_route(mock_api, "orders.place", {"status": "false", "message": "RMS:rejected", "errorcode": "RS-0111"})
    order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)
    order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)
    reads = [c for c in mock_api.calls if c.request.url.endswith("/portfolio/positions")]
    assert len(reads) == 2


def test_a_plain_order_also_invalidates_the_cache(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(50)))
    add_route(mock_api, "orders.place", PLACED)
    order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)  # reads 50: nothing to do
    order_api.place_order_api(smart(), ACCESS_TOKEN)  # a plain order changes the position
    order_api.place_smartorder_api(smart(position_size=50), ACCESS_TOKEN)  # must read again
    reads = [c for c in mock_api.calls if c.request.url.endswith("/portfolio/positions")]
    assert len(reads) == 2


def sent_json_body(request):
    return json.loads(request.body)


def test_concurrent_identical_smart_orders_place_once(mock_api, symbols):
    """Four signals for the same target at once: the lock and the invalidation leave one order."""
    state = {"net": 0}
    lock = threading.Lock()

    def positions_now(request):
        with lock:
            net = state["net"]
        return 200, {}, json.dumps(positions(nifty_future(net)))

    def place_now(request):
        with lock:
            state["net"] += int(sent_json_body(request)["quantity"])
        return 200, {}, json.dumps(PLACED)

    mock_api.add_callback("GET", "https://api.mstock.trade/openapi/typeb/portfolio/positions", callback=positions_now)
    mock_api.add_callback("POST", "https://api.mstock.trade/openapi/typeb/orders/regular", callback=place_now)
    results = []
    threads = [threading.Thread(target=lambda: results.append(order_api.place_smartorder_api(smart(), ACCESS_TOKEN)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["net"] == 50
    assert sorted(r[2] is None for r in results) == [False, True, True, True]


def test_get_open_position_reads_the_cached_book(mock_api, symbols):
    add_route(mock_api, "portfolio.positions", positions(nifty_future(-75)))
    assert order_api.get_open_position("NIFTY28NOV24FUT", "NFO", "CARRYFORWARD", ACCESS_TOKEN) == "-75"
    assert order_api.get_open_position("NIFTY28NOV24FUT", "NFO", "NRML", ACCESS_TOKEN) == "-75"
    assert order_api.get_open_position("NIFTY28NOV24FUT", "NFO", "MIS", ACCESS_TOKEN) == "0"
    assert len(mock_api.calls) == 1


def test_ten_threads_place_at_once(mock_api, symbols):
    """OpenAlgo's basket orders: 10 threads, 10 orders, 10 distinct tags, no lost or doubled order."""
    counter = {"n": 0}
    lock = threading.Lock()
    tags = []

    def accept(request):
        with lock:
            counter["n"] += 1
            tags.append(sent_json_body(request)["ordertag"])
            oid = f"11912411{counter['n']:05d}"
        return 200, {}, json.dumps([{"status": "true", "data": {"orderid": oid}}])

    mock_api.add_callback("POST", "https://api.mstock.trade/openapi/typeb/orders/regular", callback=accept)
    results = []
    go = threading.Barrier(10)

    def leg():
        go.wait()
        results.append(order_api.place_order_api(
            {"symbol": "SBIN", "exchange": "NSE", "action": "buy", "quantity": 1, "pricetype": "MARKET",
             "product": "MIS"}, ACCESS_TOKEN))

    threads = [threading.Thread(target=leg) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0].status for r in results) == [200] * 10
    assert len({r[2] for r in results}) == 10
    assert len(set(tags)) == 10


# --- OpenAlgo's static checks (test/test_smartorder_logic.py, contract 15) ---------------------------


def test_openalgo_static_smart_order_checks():
    content = ORDER_API.read_text(encoding="utf-8")
    for needle in ("_get_cached_positions", "_invalidate_position_cache", "_get_symbol_lock", "symbol_lock",
                   "import threading", "import time"):
        assert needle in content, needle
    body = re.search(r"def get_open_position\(.*?\):(.*?)(?=\ndef |\Z)", content, re.DOTALL).group(1)
    assert "_get_cached_positions" in body or "= get_positions(" not in body
    py_compile.compile(str(ORDER_API), doraise=True)


def test_symbol_locks_are_released_and_forgotten():
    with position_cache.get_symbol_lock("SBIN", "NSE", "MIS"):
        assert len(position_cache._symbol_locks) == 1
    assert len(position_cache._symbol_locks) == 0
