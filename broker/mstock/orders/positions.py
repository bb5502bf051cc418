"""The position cache and per-instrument locks behind smart orders (contract 4.2, 15).

A smart order holds the lock of its (symbol, exchange, product) around "read position,
decide, place", reads positions through a ~1 s cache, and the cache is invalidated after
every order this process places or modifies: four identical smart orders fired together
send one order, not four (D2). The cache and the lock registry are bounded and
thread-safe; a fetch that started before an invalidation is never cached, so a smart
order can never act on a position book older than the last order it placed.

OpenAlgo's own smart-order helpers are named ``_get_cached_positions``,
``_invalidate_position_cache`` and ``_get_symbol_lock``; these are the same three.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from ..transport.client import MStockClient
from .portfolio import fetch_positions

POSITION_CACHE_TTL = 1.0  # seconds (contract 4.2)
_MAX_CACHED_SESSIONS = 16


@dataclass
class _CachedPositions:
    fetched_at: float
    generation: int
    rows: list[Mapping[str, Any]]


_cache_lock = threading.Lock()
_position_cache: OrderedDict[str, _CachedPositions] = OrderedDict()
_generations: OrderedDict[str, int] = OrderedDict()


def _session_key(client: MStockClient) -> str:
    return client.access_token or ""


def get_cached_positions(client: MStockClient) -> list[Mapping[str, Any]]:
    """The position rows of the client's account, at most ``POSITION_CACHE_TTL`` seconds old.

    A failed fetch raises: a smart order must never assume a flat position (D2).
    """
    key = _session_key(client)
    with _cache_lock:
        generation = _generations.get(key, 0)
        cached = _position_cache.get(key)
        if cached and cached.generation == generation and time.monotonic() - cached.fetched_at < POSITION_CACHE_TTL:
            return cached.rows
    rows = fetch_positions(client)
    with _cache_lock:
        # Cache only if no order was placed while we were fetching (the rows could predate it).
        if _generations.get(key, 0) == generation:
            _position_cache[key] = _CachedPositions(time.monotonic(), generation, rows)
            _position_cache.move_to_end(key)
            while len(_position_cache) > _MAX_CACHED_SESSIONS:
                _position_cache.popitem(last=False)
    return rows


def invalidate_position_cache(client: MStockClient) -> None:
    """Forget the account's cached positions, including any fetch still in flight."""
    key = _session_key(client)
    with _cache_lock:
        _position_cache.pop(key, None)
        _generations[key] = _generations.get(key, 0) + 1
        _generations.move_to_end(key)
        while len(_generations) > _MAX_CACHED_SESSIONS * 4:
            stale, _ = _generations.popitem(last=False)
            _position_cache.pop(stale, None)


class _SymbolLocks:
    """One lock per (symbol, exchange, product), kept only while someone holds or waits on it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: tuple[str, str, str]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


_symbol_locks = _SymbolLocks()


def get_symbol_lock(symbol: str, exchange: str, product: str) -> AbstractContextManager[None]:
    """A context manager serialising smart orders for one (symbol, exchange, product)."""
    return _symbol_locks.hold((symbol.upper(), exchange.upper(), product.upper()))


def reset_for_tests() -> None:
    with _cache_lock:
        _position_cache.clear()
        _generations.clear()
