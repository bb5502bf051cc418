"""The README says exactly what each function returns on an expired session (issue 11 item 13).

The table is read from the README and each row is checked against what the function does
when mStock answers IA401, so the documentation cannot drift from the behaviour.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broker.mstock.api import auth_api, funds, margin_api, order_api
from broker.mstock.api.data import BrokerData
from broker.mstock.errors import SessionExpired
from broker.mstock.transport.routes import ROUTES

from ..helpers import ACCESS_TOKEN, load_fixture

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### What each function returns when the session has expired"
ORDER = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, "pricetype": "MARKET", "product": "MIS"}


def expired_table() -> dict[str, str]:
    """function name -> the README's answer cell, for every name in the first column."""
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, "the README has no table of answers on an expired session"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] and not set(cells[0]) <= set("-"):
            for name in re.findall(r"`([A-Za-z_.]+)`", cells[0]):
                table[name.split(".")[-1]] = cells[1]
    return table


@pytest.fixture
def everything_expired(mock_api):
    body = load_fixture("orders.list", "expired")
    for route in ROUTES.values():
        if "{" not in route.path:
            mock_api.add(route.method, re.compile(r".*/openapi/typeb" + re.escape(route.path) + r"$"),
                         json=body, status=401)
    mock_api.add("PUT", re.compile(r".*/orders/regular/.*"), json=body, status=401)
    mock_api.add("DELETE", re.compile(r".*/orders/regular/.*"), json=body, status=401)
    return mock_api


def test_every_openalgo_facing_function_is_in_the_table():
    table = expired_table()
    faces = {
        "place_order_api", "place_smartorder_api", "modify_order", "cancel_order", "close_all_positions",
        "cancel_all_orders_api", "get_open_position", "get_order_book", "get_trade_book", "get_positions",
        "get_holdings", "get_margin_data", "test_auth_token", "calculate_margin_api", "get_quotes",
        "get_multiquotes", "get_depth", "get_history", "logout", "master_contract_download",
    }
    assert faces <= set(table), sorted(faces - set(table))


def test_the_table_says_what_the_functions_do(everything_expired, symbols):
    table = expired_table()

    res, body, orderid = order_api.place_order_api(dict(ORDER), ACCESS_TOKEN)
    assert (res.status, body["status"], orderid) == (401, "error", None)
    assert "401" in table["place_order_api"] and "None" in table["place_order_api"]

    body, status = order_api.modify_order({**ORDER, "orderid": "1", "pricetype": "LIMIT", "price": 1}, ACCESS_TOKEN)
    assert (body["status"], status) == ("error", 401)
    assert "401" in table["modify_order"]

    with pytest.raises(SessionExpired):
        order_api.cancel_all_orders_api({}, ACCESS_TOKEN)
    assert "raise" in table["cancel_all_orders_api"]

    book = order_api.get_order_book(ACCESS_TOKEN)
    assert book["status"] == "error" and book["message"]
    assert '"status": "error"' in table["get_order_book"]

    assert funds.get_margin_data(ACCESS_TOKEN) == {}
    assert table["get_margin_data"].startswith("`{}`")

    valid, reason = funds.test_auth_token(ACCESS_TOKEN)
    assert valid is False and reason
    assert "(False" in table["test_auth_token"]

    response, body = margin_api.calculate_margin_api([{**ORDER, "price": 0}], ACCESS_TOKEN)
    assert (response.status, body["status"]) == (401, "error")
    assert "401" in table["calculate_margin_api"]

    with pytest.raises(SessionExpired):
        BrokerData(ACCESS_TOKEN).get_quotes("SBIN", "NSE")
    assert "raise" in table["get_quotes"]

    assert auth_api.logout(ACCESS_TOKEN) == (True, None)
    assert "(True, None)" in table["logout"]


def test_the_readme_no_longer_says_an_expired_session_is_always_an_error():
    assert "An expired session is an\n  error, not an empty book." not in README.read_text(encoding="utf-8")
