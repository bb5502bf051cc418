"""The order commands of the CLI (``broker.mstock.cli.orders``)."""

from __future__ import annotations

import pytest

from broker.mstock.account import session
from broker.mstock.cli import main

from ..helpers import ACCESS_TOKEN, add_route, sent_json
from .order_support import PLACED, book, order_row

pytestmark = pytest.mark.usefixtures("fast_reconcile")


@pytest.fixture(autouse=True)
def logged_in(monkeypatch):
    monkeypatch.setattr(session, "current_auth_token", lambda: ACCESS_TOKEN)


def test_order_place(mock_api, symbols, capsys):
    add_route(mock_api, "orders.place", PLACED)
    add_route(mock_api, "orders.list", book(order_row()))  # the CLI reads the new order back once
    code = main(["order", "place", "SBIN", "NSE", "buy", "10", "--pricetype", "LIMIT", "--price", "570.05", "--amo"])
    assert code == 0
    out = capsys.readouterr().out
    assert "1191241106101" in out and "open" in out
    sent = sent_json(mock_api.calls[0])
    assert (sent["variety"], sent["price"], sent["quantity"]) == ("AMO", "570.05", "10")


def test_order_place_rejected_is_a_failure(mock_api, symbols, capsys):
    code = main(["order", "place", "SBIN", "NSE", "BUY", "10", "--product", "NRML"])
    assert code == 1
    assert "product NRML is for derivatives" in capsys.readouterr().err
    assert len(mock_api.calls) == 0


def test_orders_table(mock_api, symbols, capsys):
    add_route(mock_api, "orders.list", book(order_row(), order_row(orderid="2", status="Traded")))
    assert main(["orders"]) == 0
    out = capsys.readouterr().out
    assert "1191241106101" in out and "complete" in out
    assert "2 orders: 1 open (0 trigger pending), 1 complete, 0 rejected" in out


def test_cancel_all_needs_yes(mock_api, symbols, capsys):
    assert main(["cancel-all"]) == 2
    assert len(mock_api.calls) == 0


def test_close_all_when_flat(mock_api, symbols, capsys):
    add_route(mock_api, "portfolio.positions", case="null")
    assert main(["close-all", "--yes"]) == 0
    assert "No Open Positions Found" in capsys.readouterr().out
