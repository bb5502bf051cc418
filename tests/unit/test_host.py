"""The host seam: detection, and delegation to OpenAlgo's modules when hosted."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from broker.mstock import host
from broker.mstock.local.symbol_store import SymbolStoreError
from broker.mstock.records import SYMTOKEN_COLUMNS, SymbolRecord

FAKE_OPENALGO = {
    "database/__init__.py": "",
    "database/token_db.py": """
        from dataclasses import dataclass

        @dataclass
        class SymbolData:
            symbol: str = "SBIN"; brsymbol: str = "SBIN-EQ"; name: str = "STATE BANK"; exchange: str = "NSE"
            brexchange: str = "NSE"; token: str = "3045"; expiry: str = ""; strike: float = 0.0; lotsize: int = 1
            instrumenttype: str = "EQ"; tick_size: float = 0.05

        def get_token(symbol, exchange): return 3045 if (symbol, exchange) == ("SBIN", "NSE") else None
        def get_br_symbol(symbol, exchange): return "SBIN-EQ"
        def get_oa_symbol(brsymbol, exchange): return "SBIN"
        def get_symbol(token, exchange): return "SBIN" if token == "3045" else None
        def get_brexchange(symbol, exchange): return "NSE"
        def get_symbol_info(symbol, exchange): return SymbolData() if symbol == "SBIN" else None
        def search_symbols(query, exchange=None, limit=50): return [SymbolData()]
    """,
    "database/symbol.py": """
        CALLS = []

        class _Table:
            def delete(self): return ("delete",)
            def insert(self): return ("insert",)

        class SymToken:
            __table__ = _Table()

        class _Connection:
            def execute(self, statement, params=None):
                CALLS.append((statement[0], len(params) if params else 0))

        class _Begin:
            def __enter__(self): return _Connection()
            def __exit__(self, *exc):
                CALLS.append(("rollback",) if exc[0] else ("commit",))
                return False

        class _Engine:
            def begin(self): return _Begin()

        engine = _Engine()

        class _Session:
            def remove(self): CALLS.append(("session_removed",))

        db_session = _Session()
    """,
    "database/auth_db.py": """
        class _Row:
            name = "trader1"

        class _Query:
            def filter_by(self, **kw):
                assert kw == {"broker": "mstock", "is_revoked": False}
                return self
            def first(self): return _Row()

        class Auth:
            query = _Query()

        def get_auth_token(name, bypass_cache=False):
            return "stored-token-of-" + name if bypass_cache else None

        def get_feed_token(name): return "feed-of-" + name
    """,
    "utils/__init__.py": "",
    "utils/logging.py": "import logging\ndef get_logger(name): return logging.getLogger(name)\n",
    "extensions.py": """
        EMITTED = []

        class _SocketIO:
            def emit(self, event, payload): EMITTED.append((event, payload))

        socketio = _SocketIO()
    """,
}


@pytest.fixture
def openalgo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for rel, text in FAKE_OPENALGO.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] in ("database", "utils", "extensions")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delenv("MSTOCK_HOST")
    host.reset_for_tests()
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in ("database", "utils", "extensions")]:
        sys.modules.pop(name, None)
    host.reset_for_tests()


def test_standalone_without_openalgo_modules(monkeypatch):
    monkeypatch.delenv("MSTOCK_HOST")
    host.reset_for_tests()
    assert host.in_openalgo() is False


def test_override_forces_the_mode(monkeypatch):
    monkeypatch.setenv("MSTOCK_HOST", "openalgo")
    assert host.in_openalgo() is True


def test_detects_openalgo(openalgo):
    assert host.in_openalgo() is True


def test_lookups_delegate_to_openalgo_token_db(openalgo):
    lookup = host.symbols()
    assert lookup.get_token("SBIN", "NSE") == "3045"
    assert lookup.get_token("XYZ", "NSE") is None
    assert lookup.get_symbol("3045", "NSE") == "SBIN"
    record = lookup.get_symbol_info("SBIN", "NSE")
    assert record == SymbolRecord("SBIN", "SBIN-EQ", "STATE BANK", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)
    assert lookup.get_record_by_token("3045", "NSE").brsymbol == "SBIN-EQ"


def test_symtoken_replace_is_one_transaction(openalgo):
    rows = [("SBIN", "SBIN-EQ", "SBI", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)] * 3
    assert host.replace_symbol_table(rows, expected_columns=SYMTOKEN_COLUMNS) == 3
    calls = sys.modules["database.symbol"].CALLS
    assert calls == [("delete", 0), ("insert", 3), ("commit",), ("session_removed",)]


def test_stored_session_uses_the_active_mstock_row_not_login_username(openalgo, monkeypatch):
    monkeypatch.setenv("LOGIN_USERNAME", "someone-else")
    session = host.stored_session()
    assert (session.access_token, session.feed_token, session.user) == ("stored-token-of-trader1", "feed-of-trader1", "trader1")
    assert "stored-token" not in repr(session)


def test_notify_emits_on_socketio(openalgo):
    host.notify("master_contract_download", {"status": "success", "message": "ok"})
    assert sys.modules["extensions"].EMITTED == [("master_contract_download", {"status": "success", "message": "ok"})]


def test_notify_logs_instead_of_raising_when_socketio_cannot_emit(openalgo, monkeypatch, caplog):
    def unbound_emit(event, payload):
        raise AttributeError("'NoneType' object has no attribute 'emit'")

    extensions = importlib.import_module("extensions")
    monkeypatch.setattr(extensions.socketio, "emit", unbound_emit)
    host.notify("master_contract_download", {"status": "error", "message": "download failed: IA401"})
    assert "could not emit master_contract_download" in caplog.text
    assert "download failed: IA401" in caplog.text


def test_search_completes_openalgo_search_hits(openalgo, monkeypatch):
    # OpenAlgo's search_symbols returns dicts with only these six keys.
    hit = {"symbol": "SBIN", "brsymbol": "SBIN-EQ", "name": "STATE BANK", "exchange": "NSE", "token": "3045", "instrumenttype": "EQ"}
    token_db = importlib.import_module("database.token_db")
    monkeypatch.setattr(token_db, "search_symbols", lambda query, exchange=None, limit=50: [hit])
    assert host.symbols().search("SBIN", "NSE") == [
        SymbolRecord("SBIN", "SBIN-EQ", "STATE BANK", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)
    ]


def test_standalone_stored_session_is_none_without_login():
    assert host.stored_session() is None


def test_symtoken_replace_sends_dicts_in_chunks_on_other_databases(openalgo):
    rows = [("SBIN", "SBIN-EQ", "SBI", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)] * 45_000
    assert host.replace_symbol_table(rows, expected_columns=SYMTOKEN_COLUMNS) == 45_000
    calls = sys.modules["database.symbol"].CALLS
    assert calls == [("delete", 0), ("insert", 20_000), ("insert", 20_000), ("insert", 5_000), ("commit",),
                     ("session_removed",)]


# ------------------------------------------------------------------ SQLite: OpenAlgo's default database

SQLITE_SYMBOL_MODULE = """
    import os
    import sqlite3

    class _Table:
        name = "symtoken"

    class SymToken:
        __table__ = _Table()

    class _Dialect:
        name = "sqlite"

    class _PooledConnection:
        # What SQLAlchemy's engine.raw_connection() hands out: the sqlite3 connection inside.
        def __init__(self):
            self.driver_connection = sqlite3.connect(os.environ["FAKE_OPENALGO_DB"], timeout=0.2)
        def close(self):
            self.driver_connection.close()

    class _Engine:
        dialect = _Dialect()
        def raw_connection(self): return _PooledConnection()

    engine = _Engine()

    class _Session:
        def remove(self): pass

    db_session = _Session()
"""
OLD_ROWS = [
    ("SBIN", "SBIN-EQ", "STATE BANK", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05),
    ("ACC", "ACC-EQ", "ACC", "NSE", "NSE", "22", "", 0.0, 1, "EQ", 0.05),
]
NEW_ROWS = [
    ("SBIN", "SBIN-EQ", "STATE BANK OF INDIA", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05),
    ("INFY", "INFY-EQ", "INFOSYS", "NSE", "NSE", "1594", "", 0.0, 1, "EQ", 0.05),
    ("NIFTY28NOV24FUT", "NIFTY28NOV24FUT", "NIFTY", "NFO", "NFO", "35001", "28-NOV-24", 0.0, 25, "FUT", 0.05),
]


@pytest.fixture
def openalgo_sqlite(openalgo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fake OpenAlgo with a real SQLite ``symtoken`` (OpenAlgo's schema and indexes, in WAL mode)."""
    import sqlite3

    from broker.mstock.local.symbol_store import _COLUMNS_DDL, INDEXES

    (tmp_path / "database" / "symbol.py").write_text(textwrap.dedent(SQLITE_SYMBOL_MODULE))
    monkeypatch.delitem(sys.modules, "database.symbol", raising=False)
    path = tmp_path / "openalgo.db"
    monkeypatch.setenv("FAKE_OPENALGO_DB", str(path))
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE symtoken ({_COLUMNS_DDL})")
    for name, columns in INDEXES:
        db.execute(f"CREATE INDEX {name} ON symtoken ({columns})")
    db.executemany(f"INSERT INTO symtoken ({', '.join(SYMTOKEN_COLUMNS)}) VALUES ({', '.join('?' * 11)})", OLD_ROWS)
    db.commit()
    db.close()
    return path


def _table(path: Path) -> tuple[list[tuple], list[tuple]]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        rows = db.execute(f"SELECT {', '.join(SYMTOKEN_COLUMNS)} FROM symtoken ORDER BY id").fetchall()
        indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").fetchall()
        return rows, indexes
    finally:
        db.close()


def test_sqlite_replace_swaps_the_rows_and_keeps_every_index(openalgo_sqlite):
    _, indexes_before = _table(openalgo_sqlite)
    assert host.replace_symbol_table(NEW_ROWS, expected_columns=SYMTOKEN_COLUMNS) == 3
    rows, indexes = _table(openalgo_sqlite)
    assert rows == NEW_ROWS
    assert indexes == indexes_before
    assert len(indexes) == 8


class _RowsThatLookAround(list):
    """Rows that, half-way through the insert, look at the table from another connection."""

    def __init__(self, rows, path: Path) -> None:
        super().__init__(rows)
        self.path = path
        self.seen: tuple[list[tuple], list[tuple]] | None = None

    def __iter__(self):
        items = list.__iter__(self)
        yield next(items)
        self.seen = _table(self.path)
        yield from items


def test_sqlite_replace_readers_see_the_old_rows_and_indexes_until_commit(openalgo_sqlite):
    _, indexes_before = _table(openalgo_sqlite)
    rows = _RowsThatLookAround(NEW_ROWS, openalgo_sqlite)
    host.replace_symbol_table(rows, expected_columns=SYMTOKEN_COLUMNS)
    assert rows.seen == (OLD_ROWS, indexes_before)
    assert _table(openalgo_sqlite)[0] == NEW_ROWS


def test_sqlite_replace_failure_leaves_the_old_table(openalgo_sqlite):
    before = _table(openalgo_sqlite)
    broken = NEW_ROWS + [(None, "X-EQ", "X", "NSE", "NSE", "9", "", 0.0, 1, "EQ", 0.05)]  # symbol is NOT NULL
    with pytest.raises(host.SymbolStoreError, match="previous symbols are unchanged"):
        host.replace_symbol_table(broken, expected_columns=SYMTOKEN_COLUMNS)
    assert _table(openalgo_sqlite) == before


def test_sqlite_replace_rolls_back_when_a_rebuilt_index_refuses_the_rows(openalgo_sqlite):
    import sqlite3

    db = sqlite3.connect(openalgo_sqlite)
    db.execute("CREATE UNIQUE INDEX uq_symtoken_token ON symtoken (token)")
    db.commit()
    db.close()
    before = _table(openalgo_sqlite)
    duplicate_token = NEW_ROWS + [("SBIN-BE", "SBIN-BE", "STATE BANK", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)]
    with pytest.raises(host.SymbolStoreError, match="UNIQUE"):
        host.replace_symbol_table(duplicate_token, expected_columns=SYMTOKEN_COLUMNS)
    assert _table(openalgo_sqlite) == before


def test_sqlite_replace_waits_for_then_reports_a_writer_holding_the_table(openalgo_sqlite):
    import sqlite3

    before = _table(openalgo_sqlite)
    other = sqlite3.connect(openalgo_sqlite)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(host.SymbolStoreError, match="locked"):
            host.replace_symbol_table(NEW_ROWS, expected_columns=SYMTOKEN_COLUMNS)
    finally:
        other.rollback()
        other.close()
    assert _table(openalgo_sqlite) == before


def test_symbol_records_follow_openalgos_cache_objects(openalgo, monkeypatch):
    token_db = importlib.import_module("database.token_db")
    loaded = token_db.SymbolData()
    monkeypatch.setattr(token_db, "get_symbol_info", lambda symbol, exchange: loaded)
    lookup = host.symbols()
    first = lookup.get_symbol_info("SBIN", "NSE")
    assert lookup.get_symbol_info("SBIN", "NSE") is first  # the same cache object: the same record
    # OpenAlgo reloads its cache after a download: new objects, new values.
    loaded = token_db.SymbolData(token="99999", lotsize=5)
    assert (lookup.get_symbol_info("SBIN", "NSE").token, lookup.get_symbol_info("SBIN", "NSE").lotsize) == ("99999", 5)


def _freeze_table(tmp_path_factory_path: Path, entries: dict[tuple[str, str], int]) -> None:
    (tmp_path_factory_path / "database" / "qty_freeze_db.py").write_text(textwrap.dedent(f"""
        ENTRIES = {entries!r}
        ASKED = []

        def get_freeze_qty(symbol, exchange):
            ASKED.append((symbol, exchange))
            return ENTRIES.get((exchange, symbol), 1)  # OpenAlgo answers 1 when it has no entry
    """))


def test_freeze_quantity_comes_from_openalgos_freeze_table(openalgo, tmp_path):
    _freeze_table(tmp_path, {("NFO", "NIFTY"): 1800})
    lookup = host.symbols()
    future = SymbolRecord("NIFTY28NOV24FUT", "NIFTY24NOVFUT", "NIFTY", "NFO", "NFO", "35001", "28-NOV-24", 0.0, 25, "FUT", 0.1)
    unknown = SymbolRecord("XYZ28NOV24FUT", "XYZ24NOVFUT", "XYZ", "NFO", "NFO", "35002", "28-NOV-24", 0.0, 25, "FUT", 0.1)
    equity = SymbolRecord("SBIN", "SBIN-EQ", "STATE BANK", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)
    assert lookup.freeze_quantity(future) == 1800
    assert lookup.freeze_quantity(unknown) is None
    assert lookup.freeze_quantity(equity) is None
    assert sys.modules["database.qty_freeze_db"].ASKED == [("NIFTY", "NFO"), ("XYZ", "NFO")]


def test_no_freeze_table_in_older_openalgo_means_no_freeze_quantity(openalgo):
    future = SymbolRecord("NIFTY28NOV24FUT", "NIFTY24NOVFUT", "NIFTY", "NFO", "NFO", "35001", "28-NOV-24", 0.0, 25, "FUT", 0.1)
    assert host.symbols().freeze_quantity(future) is None


def test_standalone_store_knows_no_freeze_quantity(symbols):
    assert symbols.freeze_quantity(symbols.get_symbol_info("NIFTY28NOV24FUT", "NFO")) is None


class _DriverError(Exception):
    """What a database driver raises (wrapped by SQLAlchemy, which keeps it as ``orig``)."""


class _WrappedError(Exception):
    def __init__(self, orig: Exception) -> None:
        super().__init__(f"({type(orig).__name__}) {orig}\n[SQL: INSERT INTO symtoken ...]\n[parameters: ...]")
        self.orig = orig


def test_a_full_disk_in_openalgos_database_names_the_first_cause(openalgo, monkeypatch):
    symbol_db = importlib.import_module("database.symbol")
    table_rows = ["old rows"]

    class Connection:
        def execute(self, statement, params=None):
            if statement == ("insert",):
                raise _WrappedError(_DriverError("database or disk is full"))

    class Begin:
        def __enter__(self):
            return Connection()

        def __exit__(self, kind, exc, tb):
            if exc is not None:
                # the driver already rolled back on its own: the second rollback fails
                raise _DriverError("cannot rollback - no transaction is active")
            return False

    monkeypatch.setattr(symbol_db, "engine", type("Engine", (), {"begin": lambda self: Begin()})())
    rows = [("SBIN", "SBIN-EQ", "SBI", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)]
    with pytest.raises(SymbolStoreError) as caught:
        host.replace_symbol_table(rows, expected_columns=SYMTOKEN_COLUMNS)
    assert str(caught.value) == (
        "could not replace OpenAlgo's symbol table (database or disk is full); the previous symbols are "
        "unchanged, download the master contract again to retry"
    )
    assert table_rows == ["old rows"]


def test_a_full_disk_under_openalgos_sqlite_keeps_the_table_and_names_the_cause(openalgo_sqlite, monkeypatch):
    import sqlite3

    symbol_db = importlib.import_module("database.symbol")
    real = symbol_db.engine.raw_connection

    def nearly_full():
        pooled = real()
        pages = pooled.driver_connection.execute("PRAGMA page_count").fetchone()[0]
        pooled.driver_connection.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up
        return pooled

    monkeypatch.setattr(symbol_db.engine, "raw_connection", nearly_full)
    before = _table(openalgo_sqlite)
    many = [(f"S{i}", f"S{i}-EQ", "X" * 60, "NSE", "NSE", str(i), "", 0.0, 1, "EQ", 0.05) for i in range(5000)]
    with pytest.raises(host.SymbolStoreError) as caught:
        host.replace_symbol_table(many, expected_columns=SYMTOKEN_COLUMNS)
    assert "database or disk is full" in str(caught.value) and "rollback" not in str(caught.value)
    assert _table(openalgo_sqlite) == before
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_holds_session_releases_openalgos_database_session(openalgo, monkeypatch):
    auth_db = importlib.import_module("database.auth_db")
    released = []
    monkeypatch.setattr(auth_db, "db_session", type("S", (), {"remove": lambda self: released.append(1)})(), raising=False)
    assert host.holds_session("stored-token-of-trader1") is True
    assert host.holds_session("an-older-token") is False
    assert host.holds_session(None) is False
    assert released == [1, 1, 1]  # no read transaction left open on the keep-warm thread


def test_standalone_holds_session_follows_the_saved_session():
    assert host.holds_session("any-token") is False  # nothing saved
