"""Inside OpenAlgo: the token of the active mstock login, OpenAlgo's symtoken, socketio events.

OpenAlgo is not installed here, so its modules are faked at the seam ``host.py`` uses:
``database.auth_db`` (Auth row + get_auth_token), ``database.symbol`` (SymToken table and
engine), ``database.token_db`` (cached lookups) and ``extensions.socketio``.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
from contextlib import contextmanager

import pytest

from broker.mstock import host
from broker.mstock.database import master_contract_db as mc
from broker.mstock.errors import SessionExpired
from broker.mstock.records import SYMTOKEN_COLUMNS
from mstock_sandbox.master import generate_master
from tests.helpers import ACCESS_TOKEN, add_route

MASTER = generate_master(2500, today=dt.date(2025, 10, 20))


class FakeOpenAlgo:
    """Just enough of OpenAlgo's modules for the host seam."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.auth_queries: list[tuple[str, bool]] = []
        self.emitted: list[tuple[str, dict]] = []
        self.table_rows: list[dict] = [dict(zip(SYMTOKEN_COLUMNS, ("OLDSYM", "OLDSYM-EQ", "", "NSE", "NSE", "1", "", 0.0, 1, "EQ", 0.05)))]
        self.transactions = 0

    def modules(self) -> dict[str, types.ModuleType]:
        fake = self
        auth_db = types.ModuleType("database.auth_db")

        class Query:
            def filter_by(self, broker, is_revoked):
                fake.auth_queries.append((broker, is_revoked))
                return self

            def first(self):
                return types.SimpleNamespace(name="trader1") if fake.token else None

        auth_db.Auth = types.SimpleNamespace(query=Query())
        auth_db.get_auth_token = lambda name, bypass_cache=False: fake.token if name == "trader1" else None
        auth_db.get_feed_token = lambda name: None

        symbol = types.ModuleType("database.symbol")
        table = types.SimpleNamespace(delete=lambda: ("delete",), insert=lambda: ("insert",))
        symbol.SymToken = types.SimpleNamespace(__table__=table)

        @contextmanager
        def begin():
            staged = list(fake.table_rows)
            connection = types.SimpleNamespace()

            def execute(statement, params=None):
                nonlocal staged
                if statement == ("delete",):
                    staged = []
                else:
                    staged.extend(params)

            connection.execute = execute
            yield connection
            fake.table_rows = staged  # commit
            fake.transactions += 1

        symbol.engine = types.SimpleNamespace(begin=begin)
        symbol.db_session = types.SimpleNamespace(remove=lambda: None)

        token_db = types.ModuleType("database.token_db")

        def find(**match):
            for row in fake.table_rows:
                if all(row[k] == v for k, v in match.items()):
                    return row
            return None

        token_db.get_token = lambda s, e: (find(symbol=s, exchange=e) or {}).get("token")
        token_db.get_br_symbol = lambda s, e: (find(symbol=s, exchange=e) or {}).get("brsymbol")
        token_db.get_oa_symbol = lambda b, e: (find(brsymbol=b, exchange=e) or {}).get("symbol")
        token_db.get_symbol = lambda t, e: (find(token=t, exchange=e) or {}).get("symbol")
        token_db.get_brexchange = lambda s, e: (find(symbol=s, exchange=e) or {}).get("brexchange")
        token_db.get_symbol_info = lambda s, e: (lambda r: types.SimpleNamespace(**r) if r else None)(find(symbol=s, exchange=e))
        token_db.search_symbols = lambda q, e, n: []

        extensions = types.ModuleType("extensions")
        extensions.socketio = types.SimpleNamespace(emit=lambda event, payload: fake.emitted.append((event, payload)))
        database = types.ModuleType("database")
        return {
            "database": database,
            "database.auth_db": auth_db,
            "database.symbol": symbol,
            "database.token_db": token_db,
            "extensions": extensions,
        }


@pytest.fixture
def openalgo(monkeypatch):
    def install(token: str | None) -> FakeOpenAlgo:
        fake = FakeOpenAlgo(token)
        for name, module in fake.modules().items():
            monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.setenv("MSTOCK_HOST", "openalgo")
        monkeypatch.setenv("LOGIN_USERNAME", "someone-else")  # must not be used (D16)
        host.reset_for_tests()
        return fake

    return install


def test_hosted_download_uses_the_active_mstock_login_and_replaces_symtoken(openalgo, mock_api):
    fake = openalgo(ACCESS_TOKEN)
    add_route(mock_api, "market.scrip_master", MASTER)
    mc.master_contract_download()
    assert fake.auth_queries == [("mstock", False)]
    assert mock_api.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert fake.transactions == 1
    symbols = {(r["symbol"], r["exchange"]) for r in fake.table_rows}
    assert ("OLDSYM", "NSE") not in symbols
    assert {("SBIN", "NSE"), ("NIFTY", "NSE_INDEX"), ("SENSEX", "BSE_INDEX")} <= symbols
    assert set(fake.table_rows[0]) == set(SYMTOKEN_COLUMNS)
    assert [p["status"] for e, p in fake.emitted if e == mc.EVENT] == ["success"]
    # lookups go through OpenAlgo's token_db in this mode
    lookup = host.symbols()
    assert lookup.get_token("SBIN", "NSE") == "3045"
    assert lookup.get_symbol_info("SBIN", "NSE").brsymbol == "SBIN-EQ"
    assert lookup.get_record_by_token("26000", "NSE_INDEX").symbol == "NIFTY"


def test_hosted_download_without_an_active_login_raises_and_emits_an_error(openalgo, mock_api):
    fake = openalgo(None)
    with pytest.raises(SessionExpired):
        mc.master_contract_download()
    assert len(mock_api.calls) == 0
    assert fake.transactions == 0
    assert [p["status"] for e, p in fake.emitted if e == mc.EVENT] == ["error"]


def test_hosted_failure_leaves_symtoken_untouched(openalgo, mock_api):
    fake = openalgo(ACCESS_TOKEN)
    add_route(mock_api, "market.scrip_master", MASTER[:10])
    with pytest.raises(mc.MasterContractError):
        mc.master_contract_download()
    assert [r["symbol"] for r in fake.table_rows] == ["OLDSYM"]
    assert fake.transactions == 0


def _unbound_socketio_emit(event: str, payload: dict) -> None:
    # What Flask-SocketIO does when socketio was never bound to OpenAlgo's app.
    raise AttributeError("'NoneType' object has no attribute 'emit'")


def test_hosted_download_succeeds_when_socketio_cannot_emit(openalgo, mock_api, monkeypatch):
    fake = openalgo(ACCESS_TOKEN)
    monkeypatch.setattr(sys.modules["extensions"].socketio, "emit", _unbound_socketio_emit)
    add_route(mock_api, "market.scrip_master", MASTER)
    assert mc.master_contract_download().startswith("mStock master contract:")
    assert fake.transactions == 1


def test_hosted_failure_keeps_its_own_error_when_socketio_cannot_emit(openalgo, mock_api, monkeypatch):
    openalgo(None)
    monkeypatch.setattr(sys.modules["extensions"].socketio, "emit", _unbound_socketio_emit)
    with pytest.raises(SessionExpired):
        mc.master_contract_download()
