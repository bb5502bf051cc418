"""Funds: five 2-decimal strings, or {} on any failure (contract 7)."""

from __future__ import annotations

import requests

from broker.mstock.api.funds import get_margin_data
from broker.mstock.api.funds import test_auth_token as check_token
from broker.mstock.transport.client import MStockClient

from ..helpers import ACCESS_TOKEN, add_route


def _positions_unreadable(mock_api) -> None:
    # A permanent failure (not retried): the summary's own P&L figures are used.
    add_route(mock_api, "portfolio.positions", {"status": "false", "message": "try later", "errorcode": "IA400"},
              status=400)


def test_funds_map_to_openalgo_keys(mock_api):
    add_route(mock_api, "user.funds", case="ok")
    _positions_unreadable(mock_api)
    assert get_margin_data(ACCESS_TOKEN) == {
        "availablecash": "299972678840.29",
        "collateral": "74668.00",
        "m2munrealized": "-1250.50",
        "m2mrealized": "310.25",
        "utiliseddebits": "27395824.71",
    }


def test_string_status_and_null_fields_are_tolerated(mock_api):
    add_route(mock_api, "user.funds", case="string_status_nulls")
    _positions_unreadable(mock_api)
    assert get_margin_data(ACCESS_TOKEN) == {
        "availablecash": "15000.50",
        "collateral": "0.00",
        "m2munrealized": "0.00",
        "m2mrealized": "0.00",
        "utiliseddebits": "0.00",
    }


def test_expired_session_gives_empty_dict_not_zeros(mock_api):
    add_route(mock_api, "user.funds", case="expired", status=401)
    assert get_margin_data(ACCESS_TOKEN) == {}


def test_network_failure_gives_empty_dict(mock_api, monkeypatch):
    monkeypatch.setattr(MStockClient, "_retry_delay", lambda self, exc, attempt: 0.0)  # retried, without the wait
    for _ in range(3):
        add_route(mock_api, "user.funds", requests.ConnectionError("down"))
    assert get_margin_data(ACCESS_TOKEN) == {}


def test_empty_summary_gives_empty_dict(mock_api):
    add_route(mock_api, "user.funds", {"status": True, "message": "SUCCESS", "data": []})
    assert get_margin_data(ACCESS_TOKEN) == {}


def test_token_check(mock_api):
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "user.funds", case="expired", status=401)
    assert check_token(ACCESS_TOKEN) == (True, None)
    assert check_token(ACCESS_TOKEN) == (False, "Invalid request. Please try again. [IA401]")
    assert check_token("") == (False, "no mStock token stored")


# --- P&L from the position book (issue 11 item 10) ---------------------------------------
#
# m2mrealized / m2munrealized come from the positions, as the position book shows them
# (fund-summary MTM fields were seen reading 0.00 on live accounts); the summary's own
# figures are used only when positions cannot be read, and the log says which.

import logging  # noqa: E402

import pytest  # noqa: E402

from broker.mstock.mapping import order_data  # noqa: E402

from .test_books_mapping import QUOTE_REPLY  # noqa: E402

SUMMARY_ONLY = {"availablecash": "299972678840.29", "collateral": "74668.00", "utiliseddebits": "27395824.71"}


def test_pnl_comes_from_the_position_book(mock_api, symbols, caplog):
    add_route(mock_api, "user.funds", case="ok")  # its MTM says -1250.50 / 310.25: not used
    add_route(mock_api, "portfolio.positions", case="mixed")
    add_route(mock_api, "market.quote", QUOTE_REPLY)
    with caplog.at_level(logging.INFO, logger="broker.mstock.account.funds"):
        funds = get_margin_data(ACCESS_TOKEN)
    # realised: option -13 (100 matched at 799.97 - 800.1), ACC round trip +125, SENSEX 20 sold at
    # 320 against 300: +400. Unrealised: the rest of each position's P&L (4983 + 500 + 750 + 200).
    assert funds == {**SUMMARY_ONLY, "m2mrealized": "512.00", "m2munrealized": "6433.00"}
    assert "from the position book" in caplog.text


def test_realised_plus_unrealised_is_the_position_books_pnl(mock_api, symbols):
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="mixed")
    add_route(mock_api, "market.quote", QUOTE_REPLY)
    add_route(mock_api, "portfolio.positions", case="mixed")
    add_route(mock_api, "market.quote", QUOTE_REPLY)
    from broker.mstock.api import order_api

    funds = get_margin_data(ACCESS_TOKEN)
    book_total = sum(row["pnl"] for row in order_data.map_position_data(order_api.get_positions(ACCESS_TOKEN)))
    assert float(funds["m2mrealized"]) + float(funds["m2munrealized"]) == pytest.approx(book_total)


def test_an_empty_position_book_means_no_pnl_today(mock_api, symbols):
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="null")
    assert get_margin_data(ACCESS_TOKEN) == {**SUMMARY_ONLY, "m2mrealized": "0.00", "m2munrealized": "0.00"}


def test_unreadable_positions_fall_back_to_the_summary_and_say_so(mock_api, symbols, caplog):
    add_route(mock_api, "user.funds", case="ok")
    _positions_unreadable(mock_api)
    with caplog.at_level(logging.INFO, logger="broker.mstock.account.funds"):
        funds = get_margin_data(ACCESS_TOKEN)
    assert funds == {**SUMMARY_ONLY, "m2mrealized": "310.25", "m2munrealized": "-1250.50"}
    assert "from the fund summary" in caplog.text and "position book could not be read" in caplog.text


def test_without_ltp_the_unrealised_part_comes_from_the_summary(mock_api, symbols, caplog):
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="mixed")
    add_route(mock_api, "market.quote", {"status": "false", "message": "down", "errorcode": "IA400"}, status=400)
    with caplog.at_level(logging.INFO, logger="broker.mstock.account.funds"):
        funds = get_margin_data(ACCESS_TOKEN)
    assert funds == {**SUMMARY_ONLY, "m2mrealized": "512.00", "m2munrealized": "-1250.50"}
    assert "unrealised from the fund summary" in caplog.text


def test_a_session_that_dies_between_the_two_reads_is_a_dead_session(mock_api, symbols):
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="expired", status=401)
    assert get_margin_data(ACCESS_TOKEN) == {}


def test_an_expired_session_reads_nothing_else(mock_api, symbols):
    add_route(mock_api, "user.funds", case="expired", status=401)
    assert get_margin_data(ACCESS_TOKEN) == {}
    assert [c.request.url.rsplit("/", 1)[-1] for c in mock_api.calls] == ["fundsummary"]
