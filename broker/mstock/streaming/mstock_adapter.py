"""``MstockWebSocketAdapter``: the mStock feed behind OpenAlgo's WebSocket proxy (contract 11).

OpenAlgo imports this module while it boots (contract 1.4), so importing it does no
work: no environment, no network, no database, no OpenAlgo import other than the base
class chosen by :mod:`.base`. Outside OpenAlgo the same class works on its own (the CLI
and the tests set ``market_data_callback``).

* ``initialize`` builds a :class:`~.feed.FeedClient` whose token provider re-reads the
  stored session (``host.stored_session(user_id)``) on every connection attempt, so the
  daily token roll-over heals itself (contract 11.5).
* ``subscribe``/``unsubscribe`` run on the proxy's event loop: they resolve the token,
  update state and wake the feed's writer thread - they never touch the network.
* The feed segment is chosen by the **OpenAlgo** exchange (``FEED_EXCHANGE_TYPE``),
  never by ``brexchange``, which is "NSE" for currency rows (upstream-review D11).
* Ticks are published as ``<EXCHANGE>_<SYMBOL>_<LTP|QUOTE|DEPTH>`` with the exchange's
  own timestamp (D12). A subscription is published at ``min(subscribed mode, packet
  mode)``, so a packet that carries less than asked is still delivered, honestly labelled.

Mode bookkeeping follows the two ways OpenAlgo calls us (contract 11.2): the connection
pool sends only the highest mode per symbol and its ``unsubscribe`` means "drop this
symbol" (it re-subscribes a lower mode itself); the proxy without pooling subscribes
and unsubscribes each mode separately. Pooled adapters are recognised by the
``_uses_shared_zmq`` flag the pool sets on them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .. import config, host
from ..errors import ConfigError, MStockError
from ..mapping.exchanges import FEED_OI_EXCHANGE_TYPES
from ..redact import register_secret
from .base import choose_base, stored_token_provider
from .feed import READY, FeedClient, FeedOptions, Key
from .payload import build_payload, topic
from .protocol import MODE_NAMES, MODE_QUOTE, MODE_SNAP, MODES, TextMessage

log = host.get_logger(__name__)

_Base: type = choose_base()

DEPTH_LEVELS = 5

Ident = tuple[str, str]  # (OpenAlgo symbol, OpenAlgo exchange)
Route = tuple[str, str, int]  # (symbol, exchange, mode) published for one feed key


class MstockWebSocketAdapter(_Base):  # type: ignore[misc, valid-type]
    """OpenAlgo's streaming adapter for mStock (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.broker_name = "mstock"
        self.user_id: str | None = None
        self.on_order_update: Callable[[str, Any], None] | None = None  # ("order"|"trade", orderData), spec 11.4
        self.on_feed_state: Callable[[str, str], None] | None = None  # (state, reason), e.g. for the CLI
        # Overridable before ``initialize`` (tests, CLI): feed timings and address.
        self.feed_options: FeedOptions | None = None
        self.feed_url: str | None = None
        self._lock = threading.Lock()
        self._feed: FeedClient | None = None
        self._closed = False
        self._modes: dict[Ident, set[int]] = {}
        self._key_of: dict[Ident, Key] = {}
        self._idents_of: dict[Key, set[Ident]] = {}
        self._routes: dict[Key, tuple[Route, ...]] = {}  # replaced, never mutated: the reader reads it lock-free
        self._feed_state: tuple[str, str] = ("idle", "")

    # ------------------------------------------------------------------ lifecycle

    def initialize(
        self,
        broker_name: str,
        user_id: str,
        auth_data: dict[str, Any] | None = None,
        *,
        force: bool = False,
        token_provider: Callable[[], str | None] | None = None,
    ) -> dict[str, Any]:
        """Prepare the feed client (no connection yet); re-initialising replaces it.

        ``force`` is accepted because OpenAlgo's proxy retries with ``force=True``; every
        call rebuilds the client anyway. ``token_provider`` (standalone callers such as the
        CLI) replaces the stored-session lookup; ``auth_data["auth_token"]`` is only a
        fallback when the host has no stored session.
        """
        self.broker_name = broker_name or "mstock"
        self.user_id = user_id
        fallback = auth_data.get("auth_token") if isinstance(auth_data, dict) else None
        provider = token_provider or stored_token_provider(user_id, fallback)
        try:
            config.settings().require("BROKER_API_SECRET")
            token = provider()
        except ConfigError as exc:
            return self._create_error_response("CONFIG_ERROR", str(exc))
        except MStockError as exc:
            return self._create_error_response("AUTH_ERROR", str(exc))
        if not token:
            return self._create_error_response(
                "AUTH_ERROR", f"no mStock session for user {user_id}: session expired or never logged in; log in again"
            )
        register_secret(token)
        feed = FeedClient(
            provider,
            on_ticks=self._on_ticks,
            on_text=self._on_text,
            on_state=self._on_state,
            options=self.feed_options,
            url=self.feed_url,
        )
        with self._lock:
            previous, self._feed = self._feed, feed
            self._closed = False
            for key in self._idents_of:
                mode = self._feed_mode(key)
                if mode is not None:
                    feed.subscribe(key[0], [key[1]], mode)
        if previous is not None:
            previous.stop()
        return self._create_success_response("mStock feed initialised")

    def connect(self) -> dict[str, Any]:
        """Start the feed threads and return at once (contract 11.2)."""
        with self._lock:
            feed = self._feed
        if feed is None:
            return self._create_error_response("NOT_INITIALIZED", "call initialize() before connect()")
        feed.start()
        return self._create_success_response("connecting to the mStock feed")

    def disconnect(self) -> dict[str, Any]:
        """Stop the feed, forget every subscription and release OpenAlgo's ZeroMQ socket."""
        with self._lock:
            feed, self._feed = self._feed, None
            self._closed = True
            self._clear_locked()
        if feed is not None:
            feed.stop()
        self.connected = False
        self.cleanup_zmq()
        return self._create_success_response("disconnected from the mStock feed")

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, symbol: str, exchange: str, mode: int = 2, depth_level: int = 5) -> dict[str, Any]:
        """Subscribe ``symbol`` on ``exchange`` (OpenAlgo values) in mode 1/2/3; never blocks."""
        from ..mapping.exchanges import FEED_EXCHANGE_TYPE

        if mode not in MODES:
            return self._create_error_response("INVALID_MODE", f"mode must be 1 (LTP), 2 (Quote) or 3 (Depth), not {mode!r}")
        exchange_type = FEED_EXCHANGE_TYPE.get(exchange)
        if exchange_type is None:
            return self._create_error_response("UNSUPPORTED_EXCHANGE", f"{exchange} is not supported on the mStock feed")
        try:
            token = host.symbols().get_token(symbol, exchange)
        except MStockError as exc:
            return self._create_error_response("SYMBOL_LOOKUP_FAILED", str(exc))
        if not token:
            return self._create_error_response("SYMBOL_NOT_FOUND", f"unknown symbol {symbol} on {exchange}")
        ident: Ident = (symbol, exchange)
        key: Key = (exchange_type, str(token))
        with self._lock:
            old_key = self._key_of.get(ident)
            if old_key is not None and old_key != key:  # the symbol table changed under us
                self._drop_locked(ident)
                self._sync_locked(old_key)
            self._modes.setdefault(ident, set()).add(mode)
            self._key_of[ident] = key
            self._idents_of.setdefault(key, set()).add(ident)
            self._sync_locked(key)
        message = f"subscribed to {symbol}.{exchange} in {MODE_NAMES[mode]} mode"
        extra: dict[str, Any] = {}
        if mode == 3:
            extra["actual_depth"] = DEPTH_LEVELS  # the only depth the feed has (spec 11.3)
            if depth_level > DEPTH_LEVELS:
                message += f" (mStock sends {DEPTH_LEVELS} depth levels)"
        return self._create_success_response(message, symbol=symbol, exchange=exchange, mode=mode, **extra)

    def unsubscribe(self, symbol: str, exchange: str, mode: int = 2) -> dict[str, Any]:
        """Drop ``mode`` for the symbol (pooled: drop the symbol); never blocks."""
        ident: Ident = (symbol, exchange)
        with self._lock:
            modes = self._modes.get(ident)
            key = self._key_of.get(ident)
            if not modes or key is None:
                return self._create_error_response("NOT_SUBSCRIBED", f"not subscribed to {symbol}.{exchange}")
            if self._pooled():
                modes.clear()
            else:
                modes.discard(mode)
            if not modes:
                self._drop_locked(ident)
            self._sync_locked(key)
        return self._create_success_response(f"unsubscribed {symbol}.{exchange} ({MODE_NAMES.get(mode, mode)})")

    def unsubscribe_all(self) -> dict[str, Any]:
        with self._lock:
            self._clear_locked()
            feed = self._feed
        if feed is not None:
            feed.unsubscribe_all()
        return self._create_success_response("unsubscribed from everything")

    def feed_status(self) -> dict[str, str]:
        """The feed's state ("ready", "reconnecting", "stood_down", ...) and why."""
        state, reason = self._feed_state
        return {"state": state, "reason": reason}

    # ------------------------------------------------------------------ bookkeeping (under self._lock)

    def _pooled(self) -> bool:
        return bool(getattr(self, "_uses_shared_zmq", False))

    def _drop_locked(self, ident: Ident) -> None:
        self._modes.pop(ident, None)
        key = self._key_of.pop(ident, None)
        if key is not None:
            idents = self._idents_of.get(key)
            if idents is not None:
                idents.discard(ident)
                if not idents:
                    del self._idents_of[key]

    def _feed_mode(self, key: Key) -> int | None:
        """The mode the feed is asked for: the highest wanted, snap for a derivative's quote.

        Open interest travels only in Snap Quote packets (spec 11.3), and OpenAlgo's QUOTE
        consumers read ``oi`` (contract 11.3), so a derivative wanted at QUOTE is fed in
        snap mode; each subscriber is still published at its own mode.
        """
        modes = [max(self._modes[i]) for i in self._idents_of.get(key, ()) if self._modes.get(i)]
        if not modes:
            return None
        mode = max(modes)
        return MODE_SNAP if mode == MODE_QUOTE and key[0] in FEED_OI_EXCHANGE_TYPES else mode

    def _sync_locked(self, key: Key) -> None:
        """Push the key's wanted mode to the feed and republish the routes."""
        mode = self._feed_mode(key)
        routes = dict(self._routes)
        if mode is None:
            routes.pop(key, None)
        else:
            routes[key] = tuple(
                (symbol, exchange, max(self._modes[(symbol, exchange)]))
                for symbol, exchange in sorted(self._idents_of[key])
                if self._modes.get((symbol, exchange))
            )
        self._routes = routes
        self.subscriptions = {
            f"{exchange}:{symbol}": {"symbol": symbol, "exchange": exchange, "mode": m, "token": k[1], "exchange_type": k[0]}
            for k, entries in routes.items()
            for symbol, exchange, m in entries
        }
        feed = self._feed
        if feed is not None:
            if mode is None:
                feed.unsubscribe(key[0], [key[1]])
            else:
                feed.subscribe(key[0], [key[1]], mode)

    def _clear_locked(self) -> None:
        self._modes.clear()
        self._key_of.clear()
        self._idents_of.clear()
        self._routes = {}
        self.subscriptions = {}

    # ------------------------------------------------------------------ feed callbacks (reader thread)

    def _on_ticks(self, ticks: list[dict[str, Any]]) -> None:
        routes = self._routes
        if self._closed or not routes:
            return
        publish = self.publish_market_data
        for tick in ticks:
            entries = routes.get((tick["exchange_type"], tick["token"]))
            if not entries:
                continue  # just unsubscribed, or another segment's token
            received = tick["mode"]
            for symbol, exchange, mode in entries:
                level = mode if mode <= received else received
                publish(topic(exchange, symbol, level), build_payload(tick, symbol, exchange, level))

    def _on_text(self, message: TextMessage) -> None:
        if message.kind in ("order", "trade"):
            callback = self.on_order_update
            if callback is not None:
                callback(message.kind, message.data)
            else:
                log.debug("mStock feed: %s update received (no order-update consumer)", message.kind)

    def _on_state(self, state: str, reason: str) -> None:
        self._feed_state = (state, reason)
        self.connected = state == READY
        callback = self.on_feed_state
        if callback is not None:
            callback(state, reason)
