"""Funds: five 2-decimal strings, or {} on any failure (contract 7)."""

from __future__ import annotations

import requests

from broker.mstock.api.funds import get_margin_data
from broker.mstock.api.funds import test_auth_token as check_token

from ..helpers import ACCESS_TOKEN, add_route


def test_funds_map_to_openalgo_keys(mock_api):
    add_route(mock_api, "user.funds", case="ok")
    assert get_margin_data(ACCESS_TOKEN) == {
        "availablecash": "299972678840.29",
        "collateral": "74668.00",
        "m2munrealized": "-1250.50",
        "m2mrealized": "310.25",
        "utiliseddebits": "27395824.71",
    }


def test_string_status_and_null_fields_are_tolerated(mock_api):
    add_route(mock_api, "user.funds", case="string_status_nulls")
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


def test_network_failure_gives_empty_dict(mock_api):
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
