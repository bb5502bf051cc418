"""The standalone symtoken store: schema, atomic replace, in-memory lookups, search."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from broker.mstock import host
from broker.mstock.errors import ConfigError
from broker.mstock.local.symbol_store import INDEXES, SymbolStore, SymbolStoreError, get_store, sqlite_path
from broker.mstock.records import SymbolRecord

SBIN = ("SBIN", "SBIN-EQ", "SBIN", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05)
ACC_BSE = ("ACC", "ACC", "ACC", "BSE", "BSE", "500410", "", 0.0, 1, "EQ", 0.05)
NIFTY_FUT = ("NIFTY28OCT25FUT", "NIFTY25OCTFUT", "NIFTY", "NFO", "NFO", "40001", "28-OCT-25", 0.0, 75, "FUT", 0.1)
VEDL_CE = ("VEDL28OCT25292.5CE", "VEDL25OCT292.5CE", "VEDL", "NFO", "NFO", "40004", "28-OCT-25", 292.5, 1150, "CE", 0.05)
USDINR = ("USDINR29OCT25FUT", "USDINR25OCTFUT", "USDINR", "CDS", "NSE", "3045", "29-OCT-25", 0.0, 1, "FUT", 0.0025)
ROWS = [SBIN, ACC_BSE, NIFTY_FUT, VEDL_CE, USDINR]


@pytest.fixture
def store(tmp_path):
    s = SymbolStore(f"sqlite:///{tmp_path / 'store.db'}")
    s.replace_all(ROWS)
    yield s
    s.close()


def test_lookups_answer_from_the_loaded_rows(store):
    assert store.get_token("SBIN", "NSE") == "3045"
    assert store.get_br_symbol("VEDL28OCT25292.5CE", "NFO") == "VEDL25OCT292.5CE"
    assert store.get_oa_symbol("NIFTY25OCTFUT", "NFO") == "NIFTY28OCT25FUT"
    assert store.get_symbol("3045", "CDS") == "USDINR29OCT25FUT"
    assert store.get_symbol(3045, "NSE") == "SBIN"
    assert store.get_brexchange("USDINR29OCT25FUT", "CDS") == "NSE"
    assert store.get_symbol_info("VEDL28OCT25292.5CE", "NFO") == SymbolRecord(*VEDL_CE)
    assert store.get_record_by_token("500410", "BSE") == SymbolRecord(*ACC_BSE)
    assert store.get_token("SBIN", "BSE") is None
    assert store.get_token("SBIN", "NOPE") is None
    assert store.count() == 5
    assert store.exchange_counts() == {"NSE": 1, "BSE": 1, "NFO": 2, "CDS": 1}


def test_the_table_has_openalgo_columns_and_index_names(store):
    conn = sqlite3.connect(store.path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(symtoken)")]
    indexes = {row[1] for row in conn.execute("PRAGMA index_list(symtoken)")}
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert columns == ["id", "symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry", "strike",
                       "lotsize", "instrumenttype", "tick_size", "contract_value"]
    assert indexes == {name for name, _ in INDEXES}
    assert mode == "wal"


def test_a_fresh_store_object_loads_the_rows_written_by_another(store, tmp_path):
    other = SymbolStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert other.get_symbol_info("NIFTY28OCT25FUT", "NFO") == SymbolRecord(*NIFTY_FUT)
    other.close()


def test_a_replace_by_another_process_is_picked_up_at_the_next_refresh(store, tmp_path):
    reader = SymbolStore(f"sqlite:///{tmp_path / 'store.db'}", refresh_seconds=0)
    assert reader.get_token("SBIN", "NSE") == "3045"
    store.replace_all([ACC_BSE])
    assert reader.get_token("SBIN", "NSE") is None
    assert reader.get_token("ACC", "BSE") == "500410"
    reader.close()


def test_a_failing_replace_leaves_the_previous_rows_in_file_and_memory(store, tmp_path):
    bad = [("X%d" % i, "X%d-EQ" % i, "X", "NSE", "NSE", str(i), "", 0.0, 1, "EQ", 0.05) for i in range(1000)]
    bad[500] = (None,) + bad[500][1:]  # symbol is NOT NULL: fails in the middle of the insert
    with pytest.raises(SymbolStoreError):
        store.replace_all(bad)
    assert store.get_token("SBIN", "NSE") == "3045"
    assert store.get_token("X1", "NSE") is None
    fresh = SymbolStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert fresh.count() == 5
    fresh.close()
    conn = sqlite3.connect(store.path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "symtoken_staging" not in tables


def test_a_row_of_the_wrong_width_is_refused_without_touching_the_table(store):
    with pytest.raises(SymbolStoreError):
        store.replace_all([SBIN[:5]])
    assert store.count() == 5


def test_readers_never_see_an_empty_table_during_a_replace(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    writer = SymbolStore(url)
    rows_a = [(f"A{i}", f"A{i}-EQ", "A", "NSE", "NSE", str(i), "", 0.0, 1, "EQ", 0.05) for i in range(2000)]
    writer.replace_all(rows_a)
    stop = threading.Event()
    counts: list[int] = []

    def read() -> None:
        conn = sqlite3.connect(writer.path)
        while not stop.is_set():
            counts.append(conn.execute("SELECT count(*) FROM symtoken").fetchone()[0])
        conn.close()

    thread = threading.Thread(target=read)
    thread.start()
    for _ in range(3):
        writer.replace_all(rows_a)
    stop.set()
    thread.join()
    writer.close()
    assert counts and set(counts) == {2000}


def test_search_ranks_exact_then_prefix_then_substring(store):
    store.replace_all(ROWS + [("SBINX", "SBINX-EQ", "SBINX", "NSE", "NSE", "9", "", 0.0, 1, "EQ", 0.05),
                              ("XSBIN", "XSBIN-EQ", "XSBIN", "NSE", "NSE", "8", "", 0.0, 1, "EQ", 0.05)])
    assert [r.symbol for r in store.search("sbin")] == ["SBIN", "SBINX", "XSBIN"]
    assert [r.symbol for r in store.search("sbin", "NSE", limit=1)] == ["SBIN"]
    assert [r.symbol for r in store.search("vedl 292.5")] == ["VEDL28OCT25292.5CE"]
    assert [r.symbol for r in store.search("40001")] == ["NIFTY28OCT25FUT"]
    assert store.search("   ") == []


def test_an_empty_database_answers_none_rather_than_failing(tmp_path):
    empty = SymbolStore(f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.get_token("SBIN", "NSE") is None
    assert empty.count() == 0
    empty.close()


def test_host_symbols_is_the_store_of_database_url(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'hosted.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_store(url).replace_all(ROWS)
    assert host.symbols().get_token("NIFTY28OCT25FUT", "NFO") == "40001"


@pytest.mark.parametrize(
    "url, path",
    [("sqlite:////abs/x.db", "/abs/x.db"), ("sqlite:///rel/x.db", "rel/x.db"), ("sqlite://", ":memory:"), ("sqlite:///:memory:", ":memory:")],
)
def test_sqlite_urls(url, path):
    assert sqlite_path(url) == path


def test_a_non_sqlite_url_is_a_configuration_error():
    with pytest.raises(ConfigError):
        sqlite_path("postgresql://db/openalgo")


def test_an_in_memory_store_works_for_quick_tools():
    mem = SymbolStore("sqlite://")
    mem.replace_all(ROWS)
    assert mem.get_token("SBIN", "NSE") == "3045"
    mem.close()


def test_a_full_disk_keeps_the_table_and_names_the_first_cause(store, tmp_path):
    # SQLite rolls a transaction back by itself when the disk fills; a second ROLLBACK must
    # not replace "database or disk is full" with "cannot rollback - no transaction is active".
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 4}")  # the disk is full a few pages from now
    big = [("X%d" % i, "X%d-EQ" % i, "X" * 60, "NSE", "NSE", str(i), "", 0.0, 1, "EQ", 0.05) for i in range(20000)]
    with pytest.raises(SymbolStoreError) as caught:
        store.replace_all(big)
    assert "database or disk is full" in str(caught.value)
    assert "rollback" not in str(caught.value)
    assert "previous symbols are unchanged" in str(caught.value)
    assert store.get_token("SBIN", "NSE") == "3045"
    fresh = SymbolStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert fresh.count() == 5
    fresh.close()
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.replace_all([ACC_BSE]) == 1  # and the store still works once there is room
