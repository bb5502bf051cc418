"""mStock order updates for OpenAlgo: pushed from the feed, checked against the order book (contract 12).

OpenAlgo builds one adapter per logged-in user with :func:`create_mstock_order_adapter`
(listed in ``_BROKER_FACTORIES`` of its ``services/order_update_service.py``), in its main
process, calls ``connect()`` and, when the session ends or is replaced, ``disconnect()``.
Every event leaves through the base class's ``_publish_event_fields`` as the keyword
arguments of OpenAlgo's ``OrderUpdateEvent`` (exactly :data:`.order_events.EVENT_FIELDS`),
and reaches WebSocket clients as ``{"type": "order_update", ...}``.

Where the events come from, all through one :class:`.order_events.OrderLedger`, so that
every state is published once and none is published after a newer one:

* **Push.** mStock sends order and trade frames on its market-data socket (spec 11.4).
  OpenAlgo's market-data adapter runs in the WebSocket-proxy process, whose event bus is
  not the main process's, so this adapter opens a socket of its own
  (:class:`.feed.FeedClient`: same login, TLS and reconnect rules), subscribes to no
  instrument and reads only text frames.
* **Backstop.** The order book is read when the adapter starts (that read only records the
  day's orders: a restart must not replay them), right after every reconnection, every
  ``backstop_interval`` seconds while the socket is up and every ``poll_interval`` seconds
  while it is down. Whatever differs from what was published is published: a state change
  during a disconnection arrives as the order's latest state.
* **Polling.** How many sockets one session may hold is undocumented (spec 11.1). When the
  server will not keep this one beside the market-data socket, the adapter closes it for
  good and follows the order book every ``poll_interval`` seconds, and says so once in the
  log. The signs: its upgrade is refused (HTTP 4xx other than 401/403) twice in a row; it is
  closed with code 1008 (what a server that evicts the older socket sends) or closed by the
  server twice within ``eviction_window`` seconds of opening; or, once per session, a probe
  that opens one more socket for ``probe_settle`` seconds is refused, or closes ours or is
  closed itself. A server that keeps one socket per session would otherwise have this
  socket block or evict the market-data feed. The probe waits until this socket has
  stayed up ``probe_delay`` seconds: on a server that evicts the older socket, the
  market-data feed reconnects sooner than that and takes the one slot back, and a probe
  sent meanwhile would evict market data once more.

``MSTOCK_ORDER_UPDATES=poll`` skips the socket, ``off`` disables the adapter.
``ORDER_POLL_INTERVAL`` (OpenAlgo's own setting, default 5 s, at least 2 s) sets the
polling pace; the book is not an order API, so polling spends none of the order limits
of the shared rate limiter.

The class is built when first asked for (:func:`order_adapter_class`), on OpenAlgo's
``BaseOrderUpdateAdapter`` inside OpenAlgo and on
:class:`.base.StandaloneOrderAdapterBase` elsewhere; importing this module does no work.
The base's own connection loop is not used: ``connect``/``disconnect``/``connected`` are
this class's, because the fallback needs to know *why* a connection ended (the HTTP
status of a refusal, the code of a close), which the base's loop does not report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websocket

from .. import config, host
from ..errors import AuthError, ConfigError, MStockError, MStockTransient
from ..mapping.order_data import book_rows
from ..redact import redact, register_secret
from ..transport.client import get_client
from .base import choose_order_base, stored_token_provider
from .connection import close_detail, green_threads, interrupt, open_socket
from .feed import READY, FeedClient, FeedOptions, SessionEnd
from .order_events import OrderLedger, observe_frame, observe_row
from .protocol import TextMessage, classify_text, feed_url, login_frame

log = host.get_logger(__name__)

BROKER = "mstock"
PUSH = "push"
POLLING = "polling"
STOPPED = "stopped"

# Close code of a server that replaces an older socket by a newer one (policy violation).
EVICTION_CLOSE_CODE = 1008


@dataclass(frozen=True)
class OrderUpdateOptions:
    """Timings and thresholds; the defaults suit the live service, tests shrink them."""

    poll_interval: float | None = None  # None: ORDER_POLL_INTERVAL, else 5 s
    backstop_interval: float = 60.0
    reconnect_settle: float = 1.0  # after a (re)connection, let the server register LOGIN before reading the book
    refusals_before_polling: int = 2
    evictions_before_polling: int = 2
    eviction_window: float = 10.0
    probe: bool = True
    # Longer than the market-data feed's first reconnection (0.5 s at most, plus the
    # handshake), so that on an evicting server the probe never races it.
    probe_delay: float = 3.0
    probe_settle: float = 2.0
    # A slower first retry than the market-data feed's: after a network outage both
    # sockets reconnect, and on a one-socket server the market data should win.
    feed: FeedOptions = field(default_factory=lambda: FeedOptions(backoff_initial=2.0))
    join_timeout: float = 2.0


class MstockOrderUpdates:
    """The order-update adapter's behaviour; see the module docstring.

    Combined with the host's base class by :func:`order_adapter_class`. Attribute names
    avoid those OpenAlgo's base class uses for its own loop (``_ws``, ``_thread``,
    ``_running``, ``_lock``...).
    """

    def __init__(
        self,
        user_id: str,
        *,
        token_provider: Callable[[], str | None] | None = None,
        options: OrderUpdateOptions | None = None,
        ws_url: str | None = None,
        polling_only: bool = False,
    ) -> None:
        super().__init__(BROKER, user_id)  # type: ignore[call-arg]  # BaseOrderUpdateAdapter(broker_name, user_id)
        self.options = options or OrderUpdateOptions()
        self.polling_only = polling_only
        self._poll_seconds = self._configured_poll_interval()  # read once: a bad value is reported once
        self._token_provider = token_provider or stored_token_provider(user_id)
        self._ws_url = ws_url
        self.ledger = OrderLedger()
        self._state_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._wake_event = threading.Event()
        self._feed_client: FeedClient | None = None
        self._watcher: threading.Thread | None = None
        self._mode = STOPPED  # STOPPED until connect(), and again after disconnect()
        self._fallback_reason = ""
        self._reconnected = False
        self._probed = False
        self._refusals = 0
        self._evictions = 0
        self._push_sessions = 0  # sessions of our socket that ended (the probe watches this)
        self._ready_since: float | None = None  # when our socket last became ready; None while it is down
        self._probed_since: float | None = None  # the _ready_since of the connection last probed
        self._rest_rejected: str | None = None
        self._rest_failures = 0
        self._no_session_logged = False

    # ------------------------------------------------------------------ OpenAlgo's hooks

    def get_ws_url(self) -> str:
        """The feed address with this session's credentials (spec 11.1); holds secrets, never log it.

        OpenAlgo's base class declares it; this adapter's own loop builds the same URL.
        """
        return self._feed_credentials()[0]

    def _feed_credentials(self) -> tuple[str, str]:
        """(feed URL, access token) of the current session."""
        token = self._token_provider()
        settings = config.settings()
        if not token or not settings.api_key:
            raise ConfigError("no mStock session or API key: log in first and set BROKER_API_SECRET")
        register_secret(token, settings.api_key)
        return feed_url(self._ws_url or settings.ws_url, settings.api_key, token), token

    def get_headers(self) -> dict[str, str] | None:
        return None  # the credentials travel in the query string and the LOGIN frame (spec 11.1)

    def normalize(self, raw_message: Any) -> dict[str, Any] | None:
        """One feed frame as the event's fields, or ``None`` (ticks, errors, other text)."""
        if isinstance(raw_message, TextMessage):
            message = raw_message
        elif isinstance(raw_message, str):
            message = classify_text(raw_message)
        else:
            return None  # binary frames are market data
        observation = observe_frame(message, host.symbols())
        return None if observation is None else dict(observation.fields)

    # ------------------------------------------------------------------ lifecycle

    def connect(self) -> None:
        """Start following this user's orders and return at once; idempotent."""
        with self._state_lock:
            if self._mode != STOPPED:
                return
            self._stop_event = threading.Event()
            self._mode = POLLING if self.polling_only else PUSH
            self._fallback_reason = "MSTOCK_ORDER_UPDATES=poll" if self.polling_only else ""
            self._watcher = threading.Thread(
                target=self._watch, name=f"mstock-order-updates-{self.user_id}", daemon=True
            )
            self._feed_client = None if self.polling_only else self._new_feed()
            # Started under the lock (both return at once), so a disconnect() racing this
            # call always finds running threads to stop.
            self._watcher.start()
            if self._feed_client is not None:
                self._feed_client.start()
        if self.polling_only:
            log.info("mStock order updates for %s: following the order book every %g s", self.user_id, self._poll_seconds)

    def disconnect(self) -> None:
        """Stop the socket and the book reads; returns promptly and is idempotent."""
        with self._state_lock:
            self._mode = STOPPED
            self._stop_event.set()
            self._wake_event.set()
            feed, self._feed_client = self._feed_client, None
            watcher = self._watcher
        if feed is not None:
            feed.stop()
        if watcher is not None and watcher is not threading.current_thread() and not green_threads():
            watcher.join(self.options.join_timeout)

    @property
    def connected(self) -> bool:
        """True while updates flow: the socket is up, or the order book is being followed."""
        mode = self._mode
        if mode == STOPPED:
            return False
        if mode == POLLING:
            return True
        feed = self._feed_client
        return feed is not None and feed.state == READY

    @property
    def mode(self) -> str:
        """``push``, ``polling`` or ``stopped``."""
        return self._mode

    def status(self) -> dict[str, Any]:
        """What the adapter is doing and why (for diagnostics)."""
        feed = self._feed_client
        return {
            "mode": self._mode,
            "connected": self.connected,
            "feed": feed.state if feed is not None else None,
            "reason": self._fallback_reason or (feed.reason if feed is not None else ""),
            "poll_interval": self._poll_seconds,
            "second_socket_checked": self._probed,
        }

    # ------------------------------------------------------------------ push (feed reader thread)

    def _new_feed(self) -> FeedClient:
        return FeedClient(
            self._token_provider,
            on_ticks=_ignore_ticks,
            on_text=self._on_text,
            on_state=self._on_feed_state,
            on_session_end=self._on_session_end,
            url=self._ws_url,
            options=self.options.feed,
            name=f"mstock-order-feed-{self.user_id}",
        )

    def _on_text(self, message: TextMessage) -> None:
        observation = observe_frame(message, host.symbols())
        if observation is not None:
            self.ledger.push(observation, self._publish)

    def _on_feed_state(self, state: str, reason: str) -> None:
        if state == READY:
            self._reconnected = True
            self._ready_since = time.monotonic()
        else:
            self._ready_since = None
        self._wake_event.set()  # up: read the book at once; down: follow it at the polling pace

    def _on_session_end(self, end: SessionEnd) -> None:
        if end.opened:
            self._push_sessions += 1
            self._refusals = 0
            if end.close_code == EVICTION_CLOSE_CODE:
                self._fall_back(f"the feed closed the order-update socket{_code(end)}, as a server that keeps "
                                "one socket per session does when another one connects")
                return
            if end.close_code is not None and end.seconds < self.options.eviction_window:
                self._evictions += 1
                if self._evictions >= self.options.evictions_before_polling:
                    self._fall_back(f"the feed closed the order-update socket {self._evictions} times within "
                                    f"{self.options.eviction_window:g} s of opening it{_code(end)}")
            elif end.seconds >= self.options.eviction_window:
                self._evictions = 0
            return
        status = end.http_status
        if status is not None and 400 <= status < 500 and status not in (401, 403):
            self._refusals += 1
            if self._refusals >= self.options.refusals_before_polling:
                self._fall_back(f"the feed refused a second socket for this session {self._refusals} times "
                                f"(HTTP {status})")

    def _fall_back(self, reason: str) -> None:
        """Give up the socket for the rest of the session and follow the order book."""
        with self._state_lock:
            if self._mode != PUSH:
                return
            self._mode = POLLING
            self._fallback_reason = reason
            feed, self._feed_client = self._feed_client, None
        log.warning(
            "mStock order updates for %s: %s; following the order book every %g s instead. "
            "Market data is not affected.", self.user_id, reason, self._poll_seconds,
        )
        if feed is not None:
            feed.stop()
        self._wake_event.set()

    def _publish(self, fields: dict[str, Any]) -> None:
        self._publish_event_fields(fields)  # type: ignore[attr-defined]  # the base class's

    # ------------------------------------------------------------------ book reads (watcher thread)

    def _configured_poll_interval(self) -> float:
        if self.options.poll_interval is not None:
            return self.options.poll_interval
        try:
            return config.order_poll_interval()
        except ConfigError as exc:
            log.warning("%s; using %g s", exc, config.DEFAULT_ORDER_POLL_INTERVAL)
            return config.DEFAULT_ORDER_POLL_INTERVAL

    def _interval(self) -> float:
        feed = self._feed_client
        if self._mode == PUSH and feed is not None and feed.state == READY:
            return self.options.backstop_interval
        return self._poll_seconds

    def _watch(self) -> None:
        stop = self._stop_event
        last_read: float | None = None
        while not stop.is_set():
            try:
                reconnected, self._reconnected = self._reconnected, False
                if reconnected:
                    stop.wait(self.options.reconnect_settle)
                elif last_read is not None:
                    now = time.monotonic()
                    probe_at = self._probe_due()
                    if probe_at is not None and probe_at <= now:
                        self._probe()
                        continue
                    wait = last_read + self._interval() - now
                    if probe_at is not None:
                        wait = min(wait, probe_at - now)
                    if wait > 0:
                        self._wake_event.wait(wait)
                        self._wake_event.clear()
                        continue  # woken early: look again at what changed
                if stop.is_set():
                    break
                last_read = time.monotonic()
                self.read_book()
            except Exception:  # noqa: BLE001 - the watcher must outlive a bug; logged with its traceback
                log.exception("mStock order updates: unexpected error while reading the order book")
                last_read = time.monotonic()

    def read_book(self) -> None:
        """Read the order book now and publish what changed (the watcher does this on its schedule)."""
        with self._read_lock:
            self._read_book_locked()

    def _read_book_locked(self) -> None:
        try:
            token = self._token_provider()
        except Exception as exc:  # noqa: BLE001 - a host database error must not end the watcher
            # Only the type goes out: the provider reads the credential store, and a driver's
            # message can quote query parameters.
            self._note_failure(f"could not read the session ({type(exc).__name__})")
            return
        if not token:
            if not self._no_session_logged:
                self._no_session_logged = True
                log.warning("mStock order updates for %s: no mStock session; waiting for a login", self.user_id)
            return
        self._no_session_logged = False
        if token == self._rest_rejected:
            return  # refused before: wait for a new login rather than knock again
        register_secret(token)
        since = self.ledger.mark()
        try:
            rows = book_rows(get_client(token).call("orders.list"))
        except AuthError as exc:
            self._rest_rejected = token
            log.warning("mStock order updates for %s: the order book refused the session (%s); "
                        "waiting for a new login", self.user_id, exc)
            return
        except MStockError as exc:
            self._note_failure(f"could not read the order book ({exc})")
            return
        if self._rest_failures:
            log.info("mStock order updates for %s: the order book is readable again", self.user_id)
            self._rest_failures = 0
        lookup = host.symbols()
        observations = [o for o in (observe_row(row, lookup) for row in rows) if o is not None]
        self.ledger.book(observations, since, self._publish)

    def _note_failure(self, what: str) -> None:
        """Log a failed read: a warning for the first of a streak, debug lines after it."""
        self._rest_failures += 1
        level = logging.WARNING if self._rest_failures == 1 else logging.DEBUG
        log.log(level, "mStock order updates for %s: %s; retrying in %g s", self.user_id, what, self._interval())

    def _probe_due(self) -> float | None:
        """When the second-socket probe is due (monotonic), or ``None`` while it is not wanted."""
        ready_since = self._ready_since
        if not self.options.probe or self._probed or self._mode != PUSH or ready_since is None:
            return None
        if ready_since == self._probed_since:
            return None  # this connection was probed, inconclusively: wait for the next one
        return ready_since + self.options.probe_delay

    def _probe(self) -> None:
        """Open one more socket for a moment: does the server keep a socket beside ours?"""
        self._probed_since = self._ready_since
        verdict = self._second_socket_verdict()
        if verdict is None:
            self._probed = True
        elif verdict:
            self._fall_back(verdict)
        # "" (inconclusive): probe again after the next connection

    def _second_socket_verdict(self) -> str | None:
        """``None`` if a second socket is kept, a reason if not, ``""`` if the probe could not tell."""
        try:
            url, token = self._feed_credentials()
        except MStockError:
            return ""
        ended_before = self._push_sessions
        if self._mode != PUSH or self._ready_since is None or self._ready_since != self._probed_since:
            return ""  # our socket went down, or we fell back, while the credentials were read
        try:
            probe = open_socket(url, timeout=self.options.feed.connect_timeout)
        except AuthError:
            return ""
        except MStockTransient as exc:
            status = exc.http_status
            if status is not None and 400 <= status < 500:
                return f"the feed refused one more socket for this session (HTTP {status})"
            return ""
        try:
            probe.settimeout(0.1)
            probe.send(login_frame(token))
            deadline = time.monotonic() + self.options.probe_settle
            while time.monotonic() < deadline and not self._stop_event.is_set():
                if self._push_sessions != ended_before:
                    return "another socket for this session closed the order-update socket"
                try:
                    opcode, frame = probe.recv_data_frame(True)
                except websocket.WebSocketTimeoutException:
                    continue
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return f"the feed closed one more socket for this session{close_detail(frame.data)}"
            if self._push_sessions != ended_before:
                return "another socket for this session closed the order-update socket"
            return None
        except websocket.WebSocketConnectionClosedException:
            return "the feed dropped one more socket for this session"
        except (websocket.WebSocketException, OSError) as exc:
            log.debug("mStock order updates: second-socket probe inconclusive (%s)", redact(exc))
            return ""
        finally:
            interrupt(probe)
            probe.shutdown()


def _ignore_ticks(ticks: list[dict[str, Any]]) -> None:
    """The order socket subscribes to nothing; a stray tick is dropped."""


def _code(end: SessionEnd) -> str:
    return f" (code {end.close_code})" if end.close_code is not None else ""


# ---------------------------------------------------------------------- the class and OpenAlgo's factory

_classes: dict[type, type] = {}
_classes_lock = threading.Lock()


def order_adapter_class() -> type:
    """``MstockOrderUpdateAdapter`` on the host's base class (built once per base)."""
    base = choose_order_base()
    with _classes_lock:
        cls = _classes.get(base)
        if cls is None:

            class MstockOrderUpdateAdapter(MstockOrderUpdates, base):  # type: ignore[valid-type, misc]
                __doc__ = MstockOrderUpdates.__doc__

            MstockOrderUpdateAdapter.__module__ = __name__
            MstockOrderUpdateAdapter.__qualname__ = "MstockOrderUpdateAdapter"
            cls = _classes[base] = MstockOrderUpdateAdapter
        return cls


def create_mstock_order_adapter(user_id: str) -> Any:
    """OpenAlgo's factory (contract 12): the adapter for ``user_id``, or ``None`` when off or not logged in."""
    try:
        mode = config.order_updates_mode()
        if mode == "off":
            log.info("mStock order updates are off (MSTOCK_ORDER_UPDATES=off)")
            return None
        config.settings().require("BROKER_API_SECRET")
        session = host.stored_session(user_id)
    except ConfigError as exc:
        log.error("mStock order updates not started: %s", exc)
        return None
    if session is None:
        log.warning("mStock order updates not started for %s: no mStock session; they start at the next login", user_id)
        return None
    if host.openalgo_order_adapter_base() is None and host.in_openalgo():
        log.warning("mStock order updates for %s: OpenAlgo's order-update base class is not loaded; "
                    "events will not reach OpenAlgo", user_id)
    return order_adapter_class()(user_id, polling_only=mode == "poll")
