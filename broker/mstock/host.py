"""The one seam between this package and whatever hosts it.

Inside OpenAlgo (its ``database``, ``utils`` and ``extensions`` packages importable) the
plugin uses OpenAlgo's symbol cache and ``symtoken`` table, its ``auth`` table for the
stored session, and its socketio for progress events. Standalone (the CLI, the demo, the
tests) it uses this project's SQLite symbol store, the CLI's session file and logging.

No other module imports OpenAlgo, and no other module knows which mode it is in.
``MSTOCK_HOST=openalgo|standalone`` overrides the detection.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import config
from .local import session_file
from .local.symbol_store import SymbolStoreError, get_store, reset_stores
from .records import SymbolRecord
from .redact import guard_logger, register_secret

BROKER_NAME = "mstock"
# Exchanges whose instruments have exchange freeze quantities (derivatives).
_FREEZE_EXCHANGES = frozenset({"NFO", "BFO", "CDS", "BCD", "MCX"})
_OPENALGO_MODULES = ("database.token_db", "database.symbol", "database.auth_db", "utils.logging", "extensions")


def get_logger(name: str) -> logging.Logger:
    """The logger for a module, with the secret filter attached.

    OpenAlgo's ``utils.logging.get_logger`` is ``logging.getLogger`` behind its root
    configuration, so a stdlib logger of the same name lands in OpenAlgo's handlers when
    hosted, and this stays free of import-time host detection.
    """
    return guard_logger(logging.getLogger(name))


log = get_logger(__name__)

_detect_lock = threading.Lock()
_detected: bool | None = None


def in_openalgo() -> bool:
    """True when running inside an OpenAlgo process (cached after the first call)."""
    forced = os.environ.get("MSTOCK_HOST", "").strip().lower()
    if forced in ("openalgo", "standalone"):
        return forced == "openalgo"
    global _detected
    with _detect_lock:
        if _detected is None:
            _detected = all(_module_available(m) for m in _OPENALGO_MODULES)
        return _detected


def _module_available(dotted: str) -> bool:
    parent = dotted.split(".", 1)[0]
    try:
        if importlib.util.find_spec(parent) is None:
            return False
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def reset_for_tests() -> None:
    """Forget the cached host detection and symbol lookups (tests only)."""
    global _detected, _openalgo_symbols
    with _detect_lock:
        _detected = None
    with _symbols_lock:
        _openalgo_symbols = None
    reset_stores()


# ------------------------------------------------------------------ symbol lookups


class SymbolLookup(Protocol):
    """What the rest of the package may ask about instruments (OpenAlgo exchange codes)."""

    def get_token(self, symbol: str, exchange: str) -> str | None: ...
    def get_br_symbol(self, symbol: str, exchange: str) -> str | None: ...
    def get_oa_symbol(self, brsymbol: str, exchange: str) -> str | None: ...
    def get_symbol(self, token: str, exchange: str) -> str | None: ...
    def get_brexchange(self, symbol: str, exchange: str) -> str | None: ...
    def get_symbol_info(self, symbol: str, exchange: str) -> SymbolRecord | None: ...
    def get_record_by_token(self, token: str, exchange: str) -> SymbolRecord | None: ...
    def search(self, query: str, exchange: str | None = None, limit: int = 50) -> list[SymbolRecord]: ...
    def freeze_quantity(self, record: SymbolRecord) -> int | None: ...


class _OpenAlgoSymbols:
    """OpenAlgo's cached ``database.token_db`` lookups (contract 10.5)."""

    _MAX_RECORDS = 50_000

    def __init__(self) -> None:
        self._db = importlib.import_module("database.token_db")
        # (symbol, exchange) -> (OpenAlgo's SymbolData object, our record of it). A record is
        # reused only while OpenAlgo hands out that very object, so a cache reload (new
        # objects) or a database fallback (a fresh object each time) always rebuilds it.
        # Single dict operations are atomic; a race only rebuilds a record twice.
        self._records: dict[tuple[str, str], tuple[Any, SymbolRecord]] = {}

    def get_token(self, symbol: str, exchange: str) -> str | None:
        token = self._db.get_token(symbol, exchange)
        return None if token is None else str(token)

    def get_br_symbol(self, symbol: str, exchange: str) -> str | None:
        return self._db.get_br_symbol(symbol, exchange)

    def get_oa_symbol(self, brsymbol: str, exchange: str) -> str | None:
        return self._db.get_oa_symbol(brsymbol, exchange)

    def get_symbol(self, token: str, exchange: str) -> str | None:
        return self._db.get_symbol(str(token), exchange)

    def get_brexchange(self, symbol: str, exchange: str) -> str | None:
        return self._db.get_brexchange(symbol, exchange)

    def get_symbol_info(self, symbol: str, exchange: str) -> SymbolRecord | None:
        info = self._db.get_symbol_info(symbol, exchange)
        if info is None:
            return None
        key = (symbol, exchange)
        known = self._records.get(key)
        if known is not None and known[0] is info:
            return known[1]
        record = SymbolRecord.from_row(info)
        if len(self._records) >= self._MAX_RECORDS:
            self._records.clear()
        self._records[key] = (info, record)
        return record

    def get_record_by_token(self, token: str, exchange: str) -> SymbolRecord | None:
        symbol = self.get_symbol(str(token), exchange)
        return None if symbol is None else self.get_symbol_info(symbol, exchange)

    def search(self, query: str, exchange: str | None = None, limit: int = 50) -> list[SymbolRecord]:
        rows = self._db.search_symbols(query, exchange, limit) or []
        return [self._full_record(_AttrRow(r) if isinstance(r, dict) else r) for r in rows[:limit]]

    def freeze_quantity(self, record: SymbolRecord) -> int | None:
        """The largest quantity one order may carry, from OpenAlgo's freeze-quantity table.

        The table is keyed by exchange and underlying (``NFO``, ``NIFTY``); OpenAlgo answers 1
        for an instrument it has no entry for, which here means "unknown". OpenAlgo versions
        without the table have no freeze quantities at all.
        """
        if record.exchange not in _FREEZE_EXCHANGES:
            return None
        try:
            freeze_db = importlib.import_module("database.qty_freeze_db")
        except ImportError:
            return None
        value = freeze_db.get_freeze_qty(record.name or record.symbol, record.exchange)
        return int(value) if isinstance(value, int) and value > 1 else None

    def _full_record(self, hit: Any) -> SymbolRecord:
        # OpenAlgo's search_symbols returns only symbol, brsymbol, name, exchange, token and
        # instrumenttype: without this lookup brexchange, expiry, strike, lot and tick size
        # would read as blanks and defaults.
        info = self.get_symbol_info(hit.symbol, hit.exchange)
        return info if info is not None else SymbolRecord.from_row(hit)


@dataclass
class _AttrRow:
    values: dict = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:
        try:
            return self.values[item]
        except KeyError:
            raise AttributeError(item) from None


_openalgo_symbols: _OpenAlgoSymbols | None = None
_symbols_lock = threading.Lock()


def symbols() -> SymbolLookup:
    """The instrument lookups of the current host.

    Standalone, ``symbol_store.get_store`` already keeps one store per database URL, so
    only OpenAlgo's lookup object is remembered here.
    """
    global _openalgo_symbols
    if not in_openalgo():
        return get_store(config.settings().database_url)
    with _symbols_lock:
        if _openalgo_symbols is None:
            _openalgo_symbols = _OpenAlgoSymbols()
        return _openalgo_symbols


def replace_symbol_table(rows: Sequence[tuple], *, expected_columns: Sequence[str]) -> int:
    """Atomically replace every ``symtoken`` row with ``rows``; return the count stored.

    Rows are tuples in ``expected_columns`` order (``records.SYMTOKEN_COLUMNS``). Either
    the whole new set becomes visible at once, or (on any failure) the old set stays.
    """
    if in_openalgo():
        return _replace_openalgo_symtoken(rows, expected_columns)
    lookup = symbols()
    return lookup.replace_all(rows)  # type: ignore[attr-defined]


def _replace_openalgo_symtoken(rows: Sequence[tuple], columns: Sequence[str]) -> int:
    symbol_db = importlib.import_module("database.symbol")
    table = symbol_db.SymToken.__table__
    engine = symbol_db.engine
    # One transaction: readers keep seeing the old rows until commit (contract 10.1
    # says delete-then-insert; upstream-review D15 is what happens when it is two steps).
    if getattr(getattr(engine, "dialect", None), "name", "") == "sqlite":
        _replace_sqlite_table(engine, str(table.name), rows, columns)
    else:
        with _FirstCause("OpenAlgo's symbol table") as failure, engine.begin() as connection, failure.watch():
            connection.execute(table.delete())
            for start in range(0, len(rows), 20_000):
                chunk = rows[start : start + 20_000]
                connection.execute(table.insert(), [dict(zip(columns, row)) for row in chunk])
    try:
        symbol_db.db_session.remove()
    except AttributeError:
        pass
    return len(rows)


def _replace_sqlite_table(engine: Any, table: str, rows: Sequence[tuple], columns: Sequence[str]) -> None:
    """Replace every row of an SQLite ``table`` in one transaction, at the speed of SQLite itself.

    On the sqlite3 connection of the host's own engine (its connect-time pragmas apply):
    ``BEGIN IMMEDIATE``, drop the table's own indexes, delete, one ``executemany`` of the
    ready tuples, recreate each index from its stored SQL, ``COMMIT``. Building each index
    once over all keys is about twice as fast as maintaining eight of them row by row, and
    plain tuples skip SQLAlchemy's per-row statement compilation and dict building (about
    half the time and 50 MB at 150k rows). SQLite's DDL is transactional, so a reader sees
    the old rows and indexes until the commit, and any failure (including a rebuilt index
    refusing the new rows) rolls everything back.
    """
    quoted = '"' + table.replace('"', '""') + '"'
    insert = f"INSERT INTO {quoted} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    pooled = engine.raw_connection()
    try:
        db = pooled.driver_connection if hasattr(pooled, "driver_connection") else pooled.connection
        # A connection in "autocommit=False" mode is always inside a transaction it opened
        # itself; anywhere else the transaction is ours to open, take the write lock and end.
        explicit = not db.in_transaction
        try:
            if explicit:
                db.execute("BEGIN IMMEDIATE")
            indexes = db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
            for name, _ in indexes:
                db.execute('DROP INDEX "' + name.replace('"', '""') + '"')
            db.execute(f"DELETE FROM {quoted}")
            db.executemany(insert, rows)
            for _, sql in indexes:
                db.execute(sql)
            if explicit:
                db.execute("COMMIT")
            else:
                db.commit()
        except BaseException as exc:
            if db.in_transaction:
                try:
                    if explicit:
                        db.execute("ROLLBACK")
                    else:
                        db.rollback()
                except sqlite3.Error:
                    pass  # closing the connection below rolls back as well
            if isinstance(exc, sqlite3.Error):
                raise SymbolStoreError(
                    f"could not replace OpenAlgo's symbol table ({exc}); the previous symbols are unchanged, "
                    "download the master contract again to retry"
                ) from exc
            raise
    finally:
        pooled.close()


class _FirstCause:
    """Reports a failed table replace by its first cause, as one :class:`SymbolStoreError`.

    Used as ``with _FirstCause(...) as failure, engine.begin() as conn, failure.watch():``:
    ``watch`` sees the body's error before the transaction's exit runs. When that exit
    fails too (SQLite rolls back on its own when the disk is full, so a second rollback
    reports "no transaction is active"), the error reported is still the first one.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._first: BaseException | None = None

    def __enter__(self) -> "_FirstCause":
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if not isinstance(exc, Exception):
            return False
        cause = self._first if isinstance(self._first, Exception) else exc
        # SQLAlchemy keeps the driver's own error as ``orig``; its text would add the SQL and parameters.
        reason = getattr(cause, "orig", None) or cause
        raise SymbolStoreError(
            f"could not replace {self._what} ({reason}); the previous symbols are unchanged, "
            "download the master contract again to retry"
        ) from cause

    @contextmanager
    def watch(self) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            self._first = exc
            raise


# ------------------------------------------------------------------ stored session


@dataclass(frozen=True)
class StoredSession:
    access_token: str = field(repr=False)
    feed_token: str | None = field(repr=False, default=None)
    user: str | None = None


def stored_session(user: str | None = None) -> StoredSession | None:
    """The mStock session saved by the host, for background jobs with no ``auth`` argument.

    Hosted: the token of ``user`` or, if none is given, of the single non-revoked
    ``mstock`` row of OpenAlgo's ``auth`` table (never ``LOGIN_USERNAME``, which is unset;
    upstream-review D16). Standalone: the CLI's saved session.
    """
    if in_openalgo():
        auth_db = importlib.import_module("database.auth_db")
        name = user
        if name is None:
            row = auth_db.Auth.query.filter_by(broker=BROKER_NAME, is_revoked=False).first()
            if row is None:
                return None
            name = row.name
        token = auth_db.get_auth_token(name, bypass_cache=True)
        if not token:
            return None
        feed = auth_db.get_feed_token(name) if hasattr(auth_db, "get_feed_token") else None
        register_secret(token, feed)
        return StoredSession(access_token=token, feed_token=feed, user=name)

    settings = config.settings()
    saved = session_file.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
    if saved is None:
        return None
    return StoredSession(access_token=saved.access_token, feed_token=saved.feed_token, user=saved.client_code)


def holds_session(access_token: str | None) -> bool:
    """Whether the host still holds ``access_token`` as its mStock session (for background threads).

    False once the user logged out or logged in again. Hosted, the lookup's database session
    is released afterwards, as OpenAlgo's own keep-alive does with its lookups, so no read
    transaction (and no SQLite lock) stays open on the calling thread.
    """
    try:
        stored = stored_session()
    finally:
        if in_openalgo():
            auth_db = sys.modules.get("database.auth_db")
            release = getattr(getattr(auth_db, "db_session", None), "remove", None)
            if release is not None:
                release()
    return stored is not None and bool(access_token) and stored.access_token == access_token


# ------------------------------------------------------------------ streaming


def openalgo_adapter_base() -> type | None:
    """OpenAlgo's ``BaseBrokerWebSocketAdapter`` when running inside its WebSocket proxy.

    OpenAlgo's ``websocket_proxy/__init__.py`` imports the base module and then, statically,
    our adapter (contract 1.4). So inside the proxy ``websocket_proxy`` is already loaded and
    the base module imports without side effects; outside it, importing ``websocket_proxy``
    ourselves would start the circular import contract 1.4 warns about, so we never do and
    return ``None``. Called at import time of the adapter module, hence no env reads here.
    """
    # Keeping OpenAlgo bootable matters more than ZeroMQ: it refuses to start when any
    # statically imported adapter fails (contract 1.4), so an unusable base is logged, not raised.
    return _websocket_proxy_class("base_adapter", "BaseBrokerWebSocketAdapter", "the mStock adapter will not publish")


def openalgo_order_adapter_base() -> type | None:
    """OpenAlgo's ``BaseOrderUpdateAdapter`` when its ``websocket_proxy`` package is loaded.

    Called when an order-update adapter is built, never at import time. OpenAlgo's
    order-update service imports ``websocket_proxy`` before it imports an adapter module
    (contract 12), so inside OpenAlgo the package is there; anywhere else importing it
    ourselves could start the circular import contract 1.4 describes, so ``None``.
    """
    return _websocket_proxy_class(
        "order_adapter", "BaseOrderUpdateAdapter", "mStock order updates will not reach OpenAlgo"
    )


def _websocket_proxy_class(module: str, name: str, consequence: str) -> type | None:
    """``websocket_proxy.<module>.<name>`` if OpenAlgo already loaded ``websocket_proxy``, else ``None``."""
    if "websocket_proxy" not in sys.modules:
        return None
    try:
        return getattr(importlib.import_module(f"websocket_proxy.{module}"), name)
    except (ImportError, AttributeError) as exc:
        log.error("OpenAlgo's websocket_proxy.%s is unusable (%s); %s", module, exc, consequence)
        return None


# ------------------------------------------------------------------ events


def notify(event: str, payload: dict[str, Any]) -> None:
    """Report progress or a result to the user (socketio toast when hosted, log otherwise)."""
    if in_openalgo():
        extensions = importlib.import_module("extensions")
        try:
            extensions.socketio.emit(event, payload)
        except Exception as exc:  # noqa: BLE001 - a toast is best-effort, see below
            # An emit fails when socketio is not bound to OpenAlgo's app (a script calling
            # master_contract_download) or its message queue is down. Raising here would fail
            # a download that succeeded, or replace the real error OpenAlgo records (contract
            # 10.1 step 3), so the event is logged instead.
            log.warning("could not emit %s to OpenAlgo's UI (%s: %s): %s", event, type(exc).__name__, exc,
                        payload.get("message", payload))
        return
    level = logging.WARNING if payload.get("status") == "error" else logging.INFO
    log.log(level, "%s: %s", event, payload.get("message", payload))

