"""A lost place answer when the book does not echo ``ordertag`` (issue 11 item 2; spec 4.7, 4.9).

mStock lists the newest order first. Every order that could be ours (same instrument, side
and quantity, updated no earlier than the request was sent) is examined through
``order/details``, newest first, each at most once, paced, until the tag is found.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from responses import matchers

from broker.mstock.api import order_api
from broker.mstock.clock import IST
from broker.mstock.orders import reconcile
from broker.mstock.transport.ratelimit import RateLimiter
from broker.mstock.transport.routes import Category

from ..helpers import ACCESS_TOKEN, add_route, load_fixture
from .order_support import book, order_row

pytestmark = pytest.mark.usefixtures("fast_reconcile")

ORDER = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10, "pricetype": "LIMIT",
         "product": "MIS", "price": 570.05}
TAG = "OAM9X2K3QZ1F701XQ2"
SENT = datetime(2024, 11, 6, 12, 42, 0, tzinfo=IST)


@pytest.fixture(autouse=True)
def sent_at_a_known_time(monkeypatch):
    monkeypatch.setattr("broker.mstock.orders.placement.new_ordertag", lambda: TAG)
    monkeypatch.setattr("broker.mstock.orders.placement.now_ist", lambda: SENT)


def details(orderid: str, tag: str) -> dict:
    body = load_fixture("orders.details", "ok")
    return {**body, "data": [{**body["data"][0], "orderid": orderid, "ordertag": tag}]}


def candidate(orderid: str, at: str) -> dict:
    # An identical order (SBIN BUY 10), last updated at ``at`` (book format, IST).
    return order_row(orderid=orderid, updatetime=at)


def lookups(mock_api) -> list[str]:
    import json

    return [json.loads(c.request.body)["order_no"] for c in mock_api.calls if c.request.url.endswith("/order/details")]


def lost_place(mock_api) -> None:
    add_route(mock_api, "orders.place", requests.exceptions.ReadTimeout("read timed out"))


def test_the_newest_order_is_found_behind_five_earlier_identical_ones(mock_api, symbols):
    lost_place(mock_api)
    rows = [candidate("1000", "2024-Nov-06 12:42:01")]  # ours, newest, listed first
    rows += [candidate(str(999 - i), f"2024-Nov-06 11:{50 - i}:00") for i in range(5)]  # earlier the same day
    add_route(mock_api, "orders.list", book(*rows))
    add_route(mock_api, "orders.details", details("1000", TAG), match=[matchers.json_params_matcher({"order_no": "1000"})])
    res, _, orderid = order_api.place_order_api(dict(ORDER), ACCESS_TOKEN)
    assert (res.status, orderid) == (200, "1000")
    assert lookups(mock_api) == ["1000"]


def test_every_candidate_after_the_send_is_examined_newest_first_each_once(mock_api, symbols):
    lost_place(mock_api)
    ours = "1003"
    rows = [candidate(str(1011 - i), f"2024-Nov-06 12:42:{11 - i:02d}") for i in range(12)]  # 1011 ... 1000
    rows.append(candidate("900", "2024-Nov-06 12:30:00"))  # placed long before the request: never ours
    add_route(mock_api, "orders.list", book(*rows))
    for row in rows:
        oid = row["orderid"]
        add_route(mock_api, "orders.details", details(oid, TAG if oid == ours else "OTHERTAG"),
                  match=[matchers.json_params_matcher({"order_no": oid})])
    res, _, orderid = order_api.place_order_api(dict(ORDER), ACCESS_TOKEN)
    assert (res.status, orderid) == (200, ours)
    assert lookups(mock_api) == [str(i) for i in range(1011, 1002, -1)]


def test_lookups_are_not_repeated_when_the_book_is_read_again(mock_api, symbols):
    lost_place(mock_api)
    add_route(mock_api, "orders.list", book(candidate("2001", "2024-Nov-06 12:42:03"),
                                            candidate("2000", "2024-Nov-06 12:42:02")))
    add_route(mock_api, "orders.details", details("2001", "OTHER1"), match=[matchers.json_params_matcher({"order_no": "2001"})])
    add_route(mock_api, "orders.details", details("2000", "OTHER2"), match=[matchers.json_params_matcher({"order_no": "2000"})])
    res, body, orderid = order_api.place_order_api(dict(ORDER), ACCESS_TOKEN)
    assert (res.status, orderid) == (504, None)
    assert body["message"].startswith(f"order state unknown (tag {TAG})")
    assert sorted(lookups(mock_api)) == ["2000", "2001"]


def test_an_order_updated_just_before_the_send_is_still_a_candidate(mock_api, symbols):
    # Our clock and mStock's differ a little: a row a few seconds "before" the send may be ours.
    lost_place(mock_api)
    add_route(mock_api, "orders.list", book(candidate("3000", "2024-Nov-06 12:41:50")))
    add_route(mock_api, "orders.details", details("3000", TAG))
    assert order_api.place_order_api(dict(ORDER), ACCESS_TOKEN)[2] == "3000"


def test_detail_lookups_are_paced(mock_api, symbols, monkeypatch):
    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

        def sleep(self, seconds):
            self.now += seconds

    clock = Clock()
    pace = RateLimiter({Category.OTHER: ((reconcile.DETAIL_LOOKUPS_PER_SECOND, 1.0),)}, clock=clock, sleep=clock.sleep)
    monkeypatch.setattr(reconcile, "_detail_pace", lambda: pace)
    lost_place(mock_api)
    rows = [candidate(str(4100 - i), "2024-Nov-06 12:42:30") for i in range(25)]
    add_route(mock_api, "orders.list", book(*rows))
    add_route(mock_api, "orders.details", details("x", "OTHER"))
    order_api.place_order_api(dict(ORDER), ACCESS_TOKEN)
    assert len(lookups(mock_api)) == 25
    assert clock.now >= 2.0  # 25 lookups at 10 a second take more than two seconds
