"""Heavy dependencies load when first needed, not when OpenAlgo imports the plugin.

OpenAlgo imports a face on the first request of its kind; whatever that import drags in
(pydantic alone is a tenth of a second) delays that request. Checked in fresh interpreters.
"""

from __future__ import annotations

from broker.mstock.account import login
from broker.mstock.api import auth_api

from ..helpers import ACCESS_TOKEN, FEED_TOKEN, PASSWORD, add_route
from .test_adapter_import import run_clean

# What OpenAlgo imports by name (contract 1.3, 1.4, 5, 10).
OPENALGO_IMPORTS = ("api.auth_api", "api.order_api", "api.data", "api.funds", "api.margin_api",
                    "mapping.order_data", "mapping.transform_data", "database.master_contract_db",
                    "streaming.mstock_adapter")


def test_importing_every_module_openalgo_names_leaves_pydantic_and_pandas_out():
    out = run_clean(
        f"""
        for name in {OPENALGO_IMPORTS!r}:
            __import__("broker.mstock." + name)
        print("pydantic" in sys.modules, "pandas" in sys.modules)
        from broker.mstock.mapping.transform_data import load_order_models
        models = load_order_models()
        print("pydantic" in sys.modules, models.parse_place(
            {{"symbol": "sbin", "exchange": "NSE", "action": "buy", "quantity": "2"}}).quantity)
        from broker.mstock.market import candles
        columns = list(candles.empty_frame().columns)[:2]
        print("pandas" in sys.modules, columns)
        """
    )
    assert out.splitlines() == ["False False", "True 2", "True ['timestamp', 'open']"]


def test_a_login_builds_the_order_validators_so_the_first_order_does_not(mock_api, monkeypatch):
    built = []
    monkeypatch.setattr(login, "load_order_models", lambda: built.append(True))
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    add_route(mock_api, "auth.session_token", case="ok")
    assert auth_api.authenticate_with_totp(PASSWORD, "123456") == (ACCESS_TOKEN, FEED_TOKEN, None)
    assert built == [True]
    request_token, _, _ = auth_api.send_otp(PASSWORD)
    assert built == [True]
    assert auth_api.verify_otp("123456", request_token) == (ACCESS_TOKEN, FEED_TOKEN, None)
    assert built == [True, True]
