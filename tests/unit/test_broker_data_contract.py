"""What OpenAlgo's services read from ``api/data.py`` and ``api/margin_api.py`` (contract 0, 8, 9)."""

from __future__ import annotations

import importlib
import inspect

from ..helpers import ACCESS_TOKEN, FEED_TOKEN


def _broker_data_class():
    # Imported the way the services do it (contract 9).
    return importlib.import_module("broker.mstock.api.data").BrokerData


def test_constructor_arities_the_services_use():
    cls = _broker_data_class()
    # quotes/history services pass feed_token when co_argcount > 2; depth passes user_id when > 3.
    assert cls.__init__.__code__.co_argcount == 4
    for args in ((ACCESS_TOKEN,), (ACCESS_TOKEN, FEED_TOKEN), (ACCESS_TOKEN, FEED_TOKEN, "user1")):
        assert cls(*args).timeframe_map["D"] == "ONE_DAY"


def test_construction_does_no_io(mock_api):
    _broker_data_class()(ACCESS_TOKEN)
    assert len(mock_api.calls) == 0


def test_timeframe_map_keys_are_what_get_history_serves():
    instance = _broker_data_class()(ACCESS_TOKEN)
    assert list(instance.timeframe_map) == ["1m", "3m", "5m", "10m", "15m", "30m", "1h", "D", "W", "M"]
    # intervals_service buckets keys by suffix; every key lands in a bucket HistorySchema accepts.
    accepted = set("1s 5s 10s 15s 30s 45s 1m 2m 3m 5m 10m 15m 20m 30m 1h 2h 3h 4h D W M Q Y".split())
    assert set(instance.timeframe_map) <= accepted


def test_methods_and_parameters_the_services_call():
    cls = _broker_data_class()
    expected = {
        "get_quotes": ["self", "symbol", "exchange"],
        "get_multiquotes": ["self", "symbols"],
        "get_depth": ["self", "symbol", "exchange"],
        "get_history": ["self", "symbol", "exchange", "interval", "start_date", "end_date"],
    }
    for name, params in expected.items():
        assert list(inspect.signature(getattr(cls, name)).parameters) == params


def test_margin_function_signature():
    module = importlib.import_module("broker.mstock.api.margin_api")
    assert list(inspect.signature(module.calculate_margin_api).parameters) == ["positions", "auth"]


def test_secrets_stay_out_of_the_repr():
    assert ACCESS_TOKEN not in repr(_broker_data_class()(ACCESS_TOKEN, FEED_TOKEN))
