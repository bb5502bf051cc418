"""Without an access token nothing authenticated is sent (issue 11 item 4).

An empty ``Bearer`` header reaches mStock as a request from nobody; it must fail here,
before the rate limiter or the network, with a message that says what to do.
"""

from __future__ import annotations

import pytest

from broker.mstock.api import data as data_api
from broker.mstock.api import funds as funds_api
from broker.mstock.api import margin_api, order_api
from broker.mstock.errors import SessionExpired
from broker.mstock.transport.client import MStockClient
from broker.mstock.transport.routes import ROUTES, Auth

from ..helpers import API_KEY, BASE_URL

ORDER = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, "pricetype": "MARKET", "product": "MIS"}
NOT_LOGGED_IN = "not logged in to mStock"

BEARER_ROUTES = sorted(name for name, r in ROUTES.items() if r.auth is Auth.BEARER)


@pytest.mark.parametrize("token", [None, "", "   "])
@pytest.mark.parametrize("route", BEARER_ROUTES)
def test_every_authenticated_route_refuses_without_a_token(mock_api, route, token):
    client = MStockClient(token, api_key=API_KEY, base_url=BASE_URL)
    path = {"orderid": "1", "exchange_id": "1", "expiry": "1", "token": "1"}
    with pytest.raises(SessionExpired) as caught:
        client.call(route, path={k: v for k, v in path.items() if "{" + k + "}" in ROUTES[route].path}, json={})
    assert str(caught.value).startswith(NOT_LOGGED_IN)
    assert "log in" in str(caught.value).split(NOT_LOGGED_IN, 1)[1]
    assert len(mock_api.calls) == 0


def test_login_routes_still_work_without_a_token(mock_api):
    from ..helpers import add_route

    add_route(mock_api, "auth.login", {"status": "true", "data": {"jwtToken": "x"}})
    MStockClient(None, api_key=API_KEY, base_url=BASE_URL).call("auth.login", json={})
    assert len(mock_api.calls) == 1


@pytest.mark.parametrize("auth", [None, ""])
def test_openalgo_faces_without_a_token_send_nothing(mock_api, symbols, auth):
    res, body, orderid = order_api.place_order_api(dict(ORDER), auth)
    assert (res.status, orderid) == (401, None)
    assert body["message"].startswith(NOT_LOGGED_IN)
    assert order_api.get_order_book(auth)["message"].startswith(NOT_LOGGED_IN)
    assert order_api.modify_order({**ORDER, "orderid": "1", "pricetype": "LIMIT", "price": 1}, auth)[1] == 401
    assert order_api.cancel_order("1", auth)[1] == 401
    assert funds_api.get_margin_data(auth) == {}
    assert funds_api.test_auth_token(auth)[0] is False
    assert margin_api.calculate_margin_api([{**ORDER, "price": 0}], auth)[0].status == 401
    with pytest.raises(SessionExpired):
        data_api.BrokerData(auth).get_quotes("SBIN", "NSE")
    assert len(mock_api.calls) == 0


def test_only_the_doctors_keyless_probe_may_ask_without_a_token(mock_api):
    from ..helpers import add_route

    add_route(mock_api, "orders.list", {"status": "false", "message": "Invalid request.", "errorcode": "IA401"},
              status=401)
    with pytest.raises(SessionExpired) as caught:
        MStockClient(None, api_key=API_KEY, base_url=BASE_URL, keyless_probe=True).call("orders.list")
    assert "not logged in" not in str(caught.value)  # mStock's own answer: the request was sent
    assert len(mock_api.calls) == 1


WRITE_BEARER_ROUTES = sorted(name for name in BEARER_ROUTES if ROUTES[name].is_write)


@pytest.mark.parametrize("route", WRITE_BEARER_ROUTES)
def test_the_keyless_probe_never_sends_a_write_without_a_token(mock_api, route):
    """The probe's exemption covers reads only: an order request from nobody stays unsent."""
    client = MStockClient(None, api_key=API_KEY, base_url=BASE_URL, keyless_probe=True)
    path = {"orderid": "1"} if "{orderid}" in ROUTES[route].path else None
    with pytest.raises(SessionExpired) as caught:
        client.call(route, path=path, json={})
    assert str(caught.value).startswith(NOT_LOGGED_IN)
    assert len(mock_api.calls) == 0
