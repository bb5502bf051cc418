"""The standalone ``symtoken`` store: SQLite on disk, dict indexes in memory (contract 10.2, 10.5).

Outside OpenAlgo (CLI, sandbox demo, tests) this plays the part of OpenAlgo's ``symtoken``
table and its ``BrokerSymbolCache``:

* the table has OpenAlgo's columns and index names, so the file can be inspected with the
  same queries;
* :meth:`SymbolStore.replace_all` builds the new set in a staging table and swaps it in
  **one transaction** (upstream-review D15): readers of the file keep seeing the old rows
  until the commit, and any failure rolls back to them;
* lookups never query: the rows are loaded once into per-exchange dicts and the index
  object is swapped atomically after a replace. Another process's replace is noticed by a
  generation stamp checked at most every :data:`REFRESH_SECONDS`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, MStockError
from ..records import SYMTOKEN_COLUMNS, SymbolRecord, expiry_order
from ..redact import guard_logger

# host.py imports this module (it is the standalone half of the host seam), so the
# logger comes straight from the redaction module rather than through host.get_logger.
log = guard_logger(logging.getLogger(__name__))

REFRESH_SECONDS = 5.0
TABLE = "symtoken"
_STAGING = "symtoken_staging"
_META = "symtoken_meta"

# OpenAlgo's model (database/symbol.py): id, the SYMTOKEN_COLUMNS, and contract_value.
_COLUMNS_DDL = """
    id INTEGER NOT NULL PRIMARY KEY,
    symbol VARCHAR NOT NULL,
    brsymbol VARCHAR NOT NULL,
    name VARCHAR,
    exchange VARCHAR,
    brexchange VARCHAR,
    token VARCHAR,
    expiry VARCHAR,
    strike FLOAT,
    lotsize INTEGER,
    instrumenttype VARCHAR,
    tick_size FLOAT,
    contract_value FLOAT
"""
# (index name, columns): SQLAlchemy's ix_<table>_<col> for index=True columns plus the
# three named composites of contract 10.2.
INDEXES: tuple[tuple[str, str], ...] = (
    ("ix_symtoken_symbol", "symbol"),
    ("ix_symtoken_brsymbol", "brsymbol"),
    ("ix_symtoken_exchange", "exchange"),
    ("ix_symtoken_brexchange", "brexchange"),
    ("ix_symtoken_token", "token"),
    ("idx_symbol_exchange", "symbol, exchange"),
    ("idx_symbol_name", "symbol, name"),
    ("idx_brsymbol_exchange", "brsymbol, exchange"),
)
_INSERT = f"INSERT INTO {_STAGING} ({', '.join(SYMTOKEN_COLUMNS)}) VALUES ({', '.join('?' * len(SYMTOKEN_COLUMNS))})"
_SELECT = f"SELECT {', '.join(SYMTOKEN_COLUMNS)} FROM {TABLE} ORDER BY id"

_SYMBOL, _BRSYMBOL, _NAME, _EXCHANGE, _BREXCHANGE, _TOKEN = range(6)
_EXPIRY, _STRIKE = 6, 7


class SymbolStoreError(MStockError):
    """The symbol table could not be read or replaced (the previous rows are unchanged)."""


def sqlite_path(database_url: str) -> str:
    """The file behind a SQLAlchemy-style SQLite URL (``sqlite:///rel.db``, ``sqlite:////abs.db``)."""
    url = (database_url or "").strip()
    if not url.startswith("sqlite:"):
        raise ConfigError("the standalone symbol store needs a sqlite DATABASE_URL (sqlite:///path/to/file.db)")
    rest = url[len("sqlite:") :]
    if rest in ("", "//", "///:memory:", "//:memory:"):
        return ":memory:"
    if not rest.startswith("///"):
        raise ConfigError(f"unsupported sqlite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute.db")
    return rest[3:].split("?", 1)[0]


class _Index:
    """An immutable snapshot: the rows and three per-exchange dicts over them."""

    __slots__ = ("rows", "by_symbol", "by_token", "by_brsymbol", "generation")

    def __init__(self, rows: list[tuple], generation: str) -> None:
        groups: dict[str, list[tuple]] = {}
        for row in rows:
            bucket = groups.get(row[_EXCHANGE])
            if bucket is None:
                bucket = groups[row[_EXCHANGE]] = []
            bucket.append(row)
        self.rows = rows
        self.by_symbol = {exch: {r[_SYMBOL]: r for r in g} for exch, g in groups.items()}
        self.by_token = {exch: {r[_TOKEN]: r for r in g} for exch, g in groups.items()}
        self.by_brsymbol = {exch: {r[_BRSYMBOL]: r for r in g} for exch, g in groups.items()}
        self.generation = generation


_EMPTY: dict[str, tuple] = {}


class SymbolStore:
    """``host.SymbolLookup`` over a SQLite file, plus :meth:`replace_all` and :meth:`count`."""

    def __init__(self, database_url: str, *, refresh_seconds: float | None = REFRESH_SECONDS) -> None:
        """``refresh_seconds``: how often a lookup may check for another process's replace
        (``0`` every call, ``None`` never)."""
        self.path = sqlite_path(database_url)
        self._refresh_seconds = refresh_seconds
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self._index: _Index | None = None
        self._next_check = 0.0

    def __repr__(self) -> str:
        return f"<SymbolStore {self.path}>"

    # ------------------------------------------------------------------ connection

    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
                # A replace writes ~50 MB; copying it from the WAL into the file happens on a
                # background thread after the commit (see _checkpoint_later), not inside it.
                conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-16384")  # 16 MB: the bulk replace spills less
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_META} (key VARCHAR PRIMARY KEY, value VARCHAR)")
            self._connection = conn
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._checkpoint(self._connection)
                self._connection.close()
                self._connection = None

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # busy readers: the next checkpoint catches up
            log.debug("symbol store %s: checkpoint deferred (%s)", self.path, exc)

    def _checkpoint_later(self) -> None:
        """Fold the WAL into the database file on a short-lived thread and connection."""
        if self.path == ":memory:":
            return

        def run() -> None:
            try:
                conn = sqlite3.connect(self.path, timeout=30.0)
            except sqlite3.Error:
                return
            try:
                self._checkpoint(conn)
            finally:
                conn.close()

        threading.Thread(target=run, name="symtoken-checkpoint", daemon=True).start()

    def _generation(self, conn: sqlite3.Connection) -> str:
        row = conn.execute(f"SELECT value FROM {_META} WHERE key = 'generation'").fetchone()
        return row[0] if row else ""

    # ------------------------------------------------------------------ loading

    def _current(self) -> _Index:
        index = self._index
        if index is not None and (self._refresh_seconds is None or time.monotonic() < self._next_check):
            return index
        return self._refresh()

    def _refresh(self) -> _Index:
        index = self._index
        # While a replace holds the lock, keep answering from the loaded rows instead of
        # waiting for it (the replace swaps the index itself when it commits).
        if not self._lock.acquire(blocking=index is None):
            return index  # type: ignore[return-value]
        try:
            index = self._index
            try:
                conn = self._conn()
                generation = self._generation(conn)
                if index is None or index.generation != generation:
                    index = self._load(conn, generation)
                    self._index = index
            except sqlite3.Error as exc:
                if index is None:
                    raise SymbolStoreError(f"cannot read the symbol table in {self.path}: {exc}") from exc
                log.warning("symbol store %s: keeping the loaded symbols (%s)", self.path, exc)
            self._next_check = time.monotonic() + (self._refresh_seconds or 0.0)
            return index
        finally:
            self._lock.release()

    def _load(self, conn: sqlite3.Connection, generation: str) -> _Index:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone()
        rows = conn.execute(_SELECT).fetchall() if exists else []
        log.debug("symbol store %s: loaded %d symbols", self.path, len(rows))
        return _Index(rows, generation)

    def reload(self) -> int:
        """Re-read the table now (e.g. after another process replaced it); return the count."""
        with self._lock:
            conn = self._conn()
            self._index = self._load(conn, self._generation(conn))
            self._next_check = time.monotonic() + (self._refresh_seconds or 0.0)
            return len(self._index.rows)

    # ------------------------------------------------------------------ replace

    def replace_all(self, rows: Iterable[Sequence]) -> int:
        """Atomically replace every row; return the number stored.

        Rows are tuples in ``SYMTOKEN_COLUMNS`` order. The new rows go into a staging
        table, which replaces ``symtoken`` (indexes rebuilt) in the same transaction; on
        any error the transaction rolls back and both the file and the in-memory index keep
        the previous rows.
        """
        data = rows if isinstance(rows, list) else list(rows)
        generation = uuid.uuid4().hex
        with self._lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute(f"DROP TABLE IF EXISTS {_STAGING}")
                    conn.execute(f"CREATE TABLE {_STAGING} ({_COLUMNS_DDL})")
                    conn.executemany(_INSERT, data)
                    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
                    conn.execute(f"ALTER TABLE {_STAGING} RENAME TO {TABLE}")
                    for name, columns in INDEXES:
                        conn.execute(f"CREATE INDEX {name} ON {TABLE} ({columns})")
                    conn.execute(
                        f"INSERT OR REPLACE INTO {_META} (key, value) VALUES ('generation', ?), ('replaced_at', ?)",
                        (generation, datetime.now(timezone.utc).isoformat(timespec="seconds")),
                    )
                    conn.execute("COMMIT")
                except BaseException as first:
                    self._roll_back(conn, first)
                    raise
            except sqlite3.Error as exc:
                raise SymbolStoreError(
                    f"could not replace the symbol table in {self.path}: {exc}; the previous symbols are unchanged"
                ) from exc
            self._index = _Index([tuple(r) for r in data] if data and type(data[0]) is not tuple else data, generation)
            self._next_check = time.monotonic() + (self._refresh_seconds or 0.0)
        self._checkpoint_later()
        return len(data)

    def _roll_back(self, conn: sqlite3.Connection, first: BaseException) -> None:
        """Undo the replace, keeping ``first`` as the error that counts.

        SQLite already rolled back on some errors (a full disk, an I/O error): a second
        ROLLBACK would fail with "no transaction is active" and hide the real cause.
        """
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("symbol store %s: rollback after %r failed too: %s", self.path, first, exc)

    def count(self) -> int:
        return len(self._current().rows)

    def exchange_counts(self) -> Counter:
        """Rows per OpenAlgo exchange."""
        index = self._current()
        return Counter({exch: len(rows) for exch, rows in index.by_symbol.items()})

    def records(self, exchange: str | None = None) -> list[SymbolRecord]:
        """Every row (of one OpenAlgo exchange), in table order."""
        index = self._current()
        rows = index.rows if exchange is None else index.by_symbol.get(exchange.upper(), _EMPTY).values()
        return [SymbolRecord(*row) for row in rows]

    # ------------------------------------------------------------------ SymbolLookup

    def get_token(self, symbol: str, exchange: str) -> str | None:
        row = self._current().by_symbol.get(exchange, _EMPTY).get(symbol)
        return None if row is None else row[_TOKEN]

    def get_br_symbol(self, symbol: str, exchange: str) -> str | None:
        row = self._current().by_symbol.get(exchange, _EMPTY).get(symbol)
        return None if row is None else row[_BRSYMBOL]

    def get_oa_symbol(self, brsymbol: str, exchange: str) -> str | None:
        row = self._current().by_brsymbol.get(exchange, _EMPTY).get(brsymbol)
        return None if row is None else row[_SYMBOL]

    def get_symbol(self, token: str, exchange: str) -> str | None:
        row = self._current().by_token.get(exchange, _EMPTY).get(str(token))
        return None if row is None else row[_SYMBOL]

    def get_brexchange(self, symbol: str, exchange: str) -> str | None:
        row = self._current().by_symbol.get(exchange, _EMPTY).get(symbol)
        return None if row is None else row[_BREXCHANGE]

    def get_symbol_info(self, symbol: str, exchange: str) -> SymbolRecord | None:
        row = self._current().by_symbol.get(exchange, _EMPTY).get(symbol)
        return None if row is None else SymbolRecord(*row)

    def get_record_by_token(self, token: str, exchange: str) -> SymbolRecord | None:
        row = self._current().by_token.get(exchange, _EMPTY).get(str(token))
        return None if row is None else SymbolRecord(*row)

    def freeze_quantity(self, record: SymbolRecord) -> int | None:
        """Always ``None``: the mStock master carries no freeze quantity (spec 8.4)."""
        return None

    def search(self, query: str, exchange: str | None = None, limit: int = 50) -> list[SymbolRecord]:
        """Rows matching every term of ``query`` (symbol, brsymbol, name, token, or strike).

        Ranked like OpenAlgo's cache search: exact symbol, then prefix, then substring of the
        symbol, then matches on the other fields; within a rank by underlying, then nearest
        expiry (as a date, never as text), then strike, then symbol.
        """
        terms = [t for t in (query or "").upper().split() if t]
        if not terms or limit <= 0:
            return []
        index = self._current()
        if exchange:
            pool = index.by_symbol.get(exchange.upper(), _EMPTY).values()
        else:
            pool = index.rows
        numbers = {}
        for term in terms:
            try:
                numbers[term] = float(term)
            except ValueError:
                pass
        first = terms[0]
        hits: list[tuple[int, str, tuple]] = []
        for row in pool:
            symbol = row[_SYMBOL]
            haystack = None
            for term in terms:
                if term in symbol:
                    continue
                if haystack is None:
                    haystack = f"{row[_BRSYMBOL]}\x00{row[_NAME] or ''}\x00{row[_TOKEN]}".upper()
                if term in haystack or (term in numbers and row[_STRIKE] == numbers[term]):
                    continue
                break
            else:
                rank = 0 if symbol == first else 1 if symbol.startswith(first) else 2 if first in symbol else 3
                hits.append((rank, symbol, row))
        hits.sort(key=lambda h: (h[0], h[2][_NAME] or "", expiry_order(h[2][_EXPIRY]), h[2][_STRIKE], len(h[1]), h[1],
                                 h[2][_EXCHANGE]))
        return [SymbolRecord(*h[2]) for h in hits[:limit]]


# ---------------------------------------------------------------------- inspection


@dataclass(frozen=True)
class TableSummary:
    """What a symbol table file holds, read without writing to it."""

    path: str
    rows_per_exchange: dict[str, int] = field(default_factory=dict)
    # When the rows were last replaced (UTC); None for a table this store never replaced
    # (OpenAlgo's own, or one written before the stamp existed): see ``modified_at``.
    replaced_at: datetime | None = None
    modified_at: datetime | None = None  # the file's modification time (UTC)

    @property
    def total(self) -> int:
        return sum(self.rows_per_exchange.values())


def describe(database_url: str) -> TableSummary | None:
    """Rows per exchange and age of the table at ``database_url``; None if there is no file.

    Opens the file read-only, so inspecting a table (OpenAlgo's, or before any download)
    never creates or changes anything.
    """
    path = sqlite_path(database_url)
    if path == ":memory:" or not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise SymbolStoreError(f"cannot open the symbol table in {path}: {exc}") from exc
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        counts: dict[str, int] = {}
        if TABLE in tables:
            grouped = conn.execute(f"SELECT exchange, COUNT(*) FROM {TABLE} GROUP BY exchange")
            counts = {str(exch): n for exch, n in grouped}
        replaced = None
        if _META in tables:
            row = conn.execute(f"SELECT value FROM {_META} WHERE key = 'replaced_at'").fetchone()
            if row and row[0]:
                try:
                    replaced = datetime.fromisoformat(row[0])
                except ValueError:
                    replaced = None
    except sqlite3.Error as exc:
        raise SymbolStoreError(f"cannot read the symbol table in {path}: {exc}") from exc
    finally:
        conn.close()
    modified = datetime.fromtimestamp(Path(path).stat().st_mtime, timezone.utc)
    return TableSummary(path, counts, replaced, modified)


# ---------------------------------------------------------------------- registry

_MAX_STORES = 4
_stores: OrderedDict[str, SymbolStore] = OrderedDict()
_stores_lock = threading.Lock()


def get_store(database_url: str) -> SymbolStore:
    """The shared store of ``database_url`` (one per URL per process)."""
    with _stores_lock:
        store = _stores.get(database_url)
        if store is None:
            store = _stores[database_url] = SymbolStore(database_url)
            while len(_stores) > _MAX_STORES:
                _, old = _stores.popitem(last=False)
                old.close()  # reopened on demand if someone still holds it
        else:
            _stores.move_to_end(database_url)
        return store


def reset_stores() -> None:
    """Close and forget every store (tests)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
