"""The mStock market-data feed client: one socket, two threads, no asyncio (spec 11).

OpenAlgo runs under eventlet (contract 1.5), so this uses ``websocket-client`` with
plain threads, which eventlet turns green when it has patched ``threading``.

* **reader thread** - reads the token from ``token_provider`` (every attempt: tokens
  roll over daily, contract 11.5), connects to ``settings().ws_url`` with
  ``?API_KEY=..&ACCESS_TOKEN=..`` (spec 11.1; TLS verified, D7), sends ``LOGIN:<token>``
  at once and treats the session as ready without waiting for an acknowledgement that
  never comes (D8), re-sends every desired subscription, then reads frames. A socket
  that brings neither data nor a pong for ``silence_timeout`` seconds is dropped (D12).
  It reconnects forever with capped, jittered backoff. A 401/403 on the upgrade makes
  it stand down with a clear reason until the provider returns a different token.
* **writer thread** - sends subscribe/unsubscribe frames and pings. Requests made
  close together (``batch_window``) leave as one frame per (action, mode); a mode
  change is an unsubscribe at the old mode followed by a subscribe at the new one.

The *desired* subscriptions (``{(exchangeType, token): mode}``) are the single source
of truth; what the current socket was told is tracked separately and rebuilt from
scratch on every connection, so nothing requested before a connect is lost (D8) and a
full unsubscribe always reaches mStock (D10).

``subscribe``/``unsubscribe`` only update state and wake the writer: they never block
on the network. ``stop()`` signals both threads with events, shuts the socket down
and, unless eventlet is active, joins them with a short timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import websocket

from .. import config
from ..errors import AuthError, ConfigError, MStockError, MStockTransient
from ..host import get_logger
from ..redact import guard_third_party_loggers, redact, register_secret
from .connection import backoff_delay, close_detail, green_threads, interrupt, open_socket
from .connection import close_code as code_of  # the name close_code is the local that holds it
from .parser import FeedParser
from .protocol import (
    ACTION_SUBSCRIBE,
    ACTION_UNSUBSCRIBE,
    TextMessage,
    check_mode,
    check_token,
    classify_text,
    display_url,
    feed_url,
    group_by_exchange,
    login_frame,
    request_frames,
)

log = get_logger(__name__)

IDLE = "idle"
CONNECTING = "connecting"
READY = "ready"
RECONNECTING = "reconnecting"
STOOD_DOWN = "stood_down"
STOPPED = "stopped"

Key = tuple[int, str]  # (exchangeType, token)
TokenProvider = Callable[[], "str | None"]


@dataclass(frozen=True)
class FeedOptions:
    """Timings; the defaults suit the live feed, tests shrink them."""

    batch_window: float = 0.05  # collect requests made this close together into one frame
    connect_timeout: float = 10.0
    recv_poll: float = 1.0  # how often a silent reader wakes to check the watchdog and stop flag
    ping_interval: float = 10.0
    silence_timeout: float = 30.0  # no data and no pong for this long -> reconnect
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stable_after: float = 30.0  # a connection up this long (or that brought data) resets the backoff
    auth_recheck_interval: float = 10.0  # while stood down: how often to ask for a new token
    max_tokens_per_request: int = 500
    join_timeout: float = 2.0


@dataclass(frozen=True)
class _Credentials:
    url: str = ""
    api_key: str = ""
    token: str = ""

    def __repr__(self) -> str:  # never show the values
        return "_Credentials(***)"


@dataclass(frozen=True)
class SessionEnd:
    """How one connection attempt ended, for a caller that must judge whether the server
    takes this socket at all (the order-update adapter's second socket, spec 11.1 says
    nothing about how many sockets one token may hold)."""

    opened: bool  # the upgrade succeeded and LOGIN was sent
    seconds: float = 0.0  # how long the socket was open
    http_status: int | None = None  # the status of a refused upgrade
    close_code: int | None = None  # the server's close frame (1005 when it carried no code)
    reason: str = ""


class _Unavailable(Exception):
    def __init__(self, reason: str, *, stand_down: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stand_down = stand_down


class FeedClient:
    """A self-healing connection to the mStock feed.

    ``on_ticks(list_of_tick_dicts)``, ``on_text(TextMessage)`` and
    ``on_session_end(SessionEnd)`` run on the reader thread; ``on_state(state, reason)``
    on whichever thread changes the state. A callback that raises is logged and does not
    stop the feed. ``on_session_end`` is not called for the attempt ``stop()`` ends.
    """

    _counter = 0
    _counter_lock = threading.Lock()

    def __init__(
        self,
        token_provider: TokenProvider,
        *,
        on_ticks: Callable[[list[dict[str, Any]]], None],
        on_text: Callable[[TextMessage], None] | None = None,
        on_state: Callable[[str, str], None] | None = None,
        on_session_end: Callable[[SessionEnd], None] | None = None,
        api_key: str | Callable[[], str | None] | None = None,
        url: str | None = None,
        options: FeedOptions | None = None,
        parser: FeedParser | None = None,
        name: str = "mstock-feed",
    ) -> None:
        self.options = options or FeedOptions()
        self.parser = parser or FeedParser()
        self._token_provider = token_provider
        self._api_key = api_key
        self._url = url
        self._on_ticks = on_ticks
        self._on_text = on_text
        self._on_state = on_state
        self._on_session_end = on_session_end
        with FeedClient._counter_lock:
            FeedClient._counter += 1
            self._name = f"{name}-{FeedClient._counter}"

        self._lock = threading.Lock()  # desired subscriptions
        self._desired: dict[Key, int] = {}
        self._send_lock = threading.Lock()  # the socket reference and what it was told
        self._ws: websocket.WebSocket | None = None
        self._applied: dict[Key, int] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._state_cond = threading.Condition()
        self._state = IDLE
        self._reason = ""
        self._threads: list[threading.Thread] = []
        self.connections = 0  # successful upgrades so far
        self.auth_failures = 0

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> str:
        return self._state

    @property
    def reason(self) -> str:
        """Why the feed is not delivering (empty when ready)."""
        return self._reason

    def start(self) -> FeedClient:
        """Start the threads and return at once; the connection is made in the background."""
        if self._stop.is_set():
            raise RuntimeError("a stopped FeedClient cannot be restarted; create a new one")
        if self._threads:
            return self
        guard_third_party_loggers()
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"{self._name}-reader", daemon=True),
            threading.Thread(target=self._write_loop, name=f"{self._name}-writer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop both threads and close the socket; returns promptly and is idempotent."""
        self._stop.set()
        self._wake.set()
        ws = self._ws
        if ws is not None:
            interrupt(ws)
        if not self._threads:
            self._set_state(STOPPED, "stopped")
        if green_threads():
            return  # eventlet: the events above end the green threads; never join them
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(self.options.join_timeout)

    def subscribe(self, exchange_type: int, tokens: Iterable[str], mode: int) -> None:
        """Want ``tokens`` of ``exchange_type`` in ``mode`` (1/2/3); a different mode is a change."""
        check_mode(mode)
        keys = [(int(exchange_type), check_token(t)) for t in tokens]
        changed = False
        with self._lock:
            for key in keys:
                if self._desired.get(key) != mode:
                    self._desired[key] = mode
                    changed = True
        if changed:
            self._wake.set()

    def unsubscribe(self, exchange_type: int, tokens: Iterable[str]) -> None:
        keys = [(int(exchange_type), check_token(t)) for t in tokens]
        changed = False
        with self._lock:
            for key in keys:
                changed |= self._desired.pop(key, None) is not None
        if changed:
            self._wake.set()

    def unsubscribe_all(self) -> None:
        with self._lock:
            changed = bool(self._desired)
            self._desired.clear()
        if changed:
            self._wake.set()

    def desired(self) -> dict[Key, int]:
        with self._lock:
            return dict(self._desired)

    def wait_for_state(self, *states: str, timeout: float) -> bool:
        """Block until the state is one of ``states`` (for the CLI and tests)."""
        with self._state_cond:
            return self._state_cond.wait_for(lambda: self._state in states, timeout)

    # ------------------------------------------------------------------ reader thread

    def _read_loop(self) -> None:
        attempt = 0
        rejected: _Credentials | None = None
        try:
            while not self._stop.is_set():
                try:
                    attempt, rejected = self._attempt(attempt, rejected)
                except Exception:  # noqa: BLE001 - "reconnect forever": a bug here must not end the feed silently
                    log.exception("mStock feed: unexpected error in the reader; reconnecting")
                    attempt += 1
                    self._backoff(attempt, "unexpected error (see the log)")
        finally:
            self._set_state(STOPPED, "stopped")

    def _attempt(self, attempt: int, rejected: _Credentials | None) -> tuple[int, _Credentials | None]:
        """One connection attempt (and session); returns the new (attempt, rejected) pair."""
        try:
            credentials = self._credentials()
        except _Unavailable as exc:
            self._set_state(STOOD_DOWN if exc.stand_down else RECONNECTING, exc.reason)
            self._stop.wait(self.options.auth_recheck_interval)
            return attempt, rejected
        if credentials == rejected:
            # The very token (and key) mStock refused: wait for a new one, never hammer.
            self._stop.wait(self.options.auth_recheck_interval)
            return attempt, rejected
        self._set_state(CONNECTING, "")
        try:
            ws = open_socket(credentials.url, timeout=self.options.connect_timeout)
        except AuthError as exc:
            self.auth_failures += 1
            reason = f"{exc}; standing down until the token changes"
            log.error("mStock feed: %s", reason)
            self._set_state(STOOD_DOWN, reason)
            self._report(SessionEnd(opened=False, http_status=exc.http_status, reason=str(exc)))
            return attempt, credentials
        except MStockTransient as exc:
            self._report(SessionEnd(opened=False, http_status=exc.http_status, reason=str(exc)))
            self._backoff(attempt + 1, str(exc))
            return attempt + 1, None
        opened = time.monotonic()
        healthy, reason, close_code = self._session(ws, credentials)
        if self._stop.is_set():
            return 0, None
        self._report(SessionEnd(opened=True, seconds=time.monotonic() - opened, close_code=close_code, reason=reason))
        if self._stop.is_set():
            return 0, None
        attempt = 1 if healthy else attempt + 1
        self._backoff(attempt, reason)
        return attempt, None

    def _credentials(self) -> _Credentials:
        try:
            settings = config.settings() if self._url is None or self._api_key is None else None
        except ConfigError as exc:
            raise _Unavailable(str(exc), stand_down=True) from None
        api_key = self._api_key() if callable(self._api_key) else self._api_key
        if api_key is None and settings is not None:
            api_key = settings.api_key
        if not api_key:
            raise _Unavailable("BROKER_API_SECRET (the mStock API key) is not set", stand_down=True)
        try:
            token = self._token_provider()
        except (AuthError, ConfigError) as exc:
            raise _Unavailable(str(exc), stand_down=True) from None
        except MStockError as exc:
            raise _Unavailable(str(exc), stand_down=False) from None
        except Exception as exc:  # noqa: BLE001 - a host DB error must not kill the reader; it becomes a retry
            # Only the error's type goes out: the provider reads the credential store, and
            # a driver's message can quote query parameters.
            log.error("mStock feed: the token provider failed (%s); retrying", type(exc).__name__)
            raise _Unavailable(f"could not read the session token: {type(exc).__name__}", stand_down=False) from None
        if not token:
            raise _Unavailable("no mStock session: log in first", stand_down=True)
        register_secret(api_key, token)
        ws_url = self._url or settings.ws_url  # type: ignore[union-attr]
        return _Credentials(url=feed_url(ws_url, api_key, token), api_key=api_key, token=token)

    def _session(self, ws: websocket.WebSocket, credentials: _Credentials) -> tuple[bool, str, int | None]:
        """Run one connection; return (was it healthy, why it ended, the server's close code)."""
        opened = time.monotonic()
        got_data = False
        reason = "connection ended"
        close_code: int | None = None
        try:
            ws.settimeout(self.options.recv_poll)
            ws.send(login_frame(credentials.token))  # no acknowledgement ever comes (D8)
            with self._send_lock:
                self._ws = ws
                self._applied = {}
            self.connections += 1
            if self._stop.is_set():
                return False, "stopped", None
            self._set_state(READY, "")
            log.info("mStock feed connected to %s", display_url(self._url or credentials.url))
            self._flush()  # resync every desired subscription on this new socket
            last_inbound = time.monotonic()
            silence = self.options.silence_timeout
            binary, text, close = websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_CLOSE
            while not self._stop.is_set():
                try:
                    opcode, frame = ws.recv_data_frame(True)
                except websocket.WebSocketTimeoutException:
                    if time.monotonic() - last_inbound > silence:
                        reason = f"no data and no pong for {silence:g} s"
                        log.warning("mStock feed: %s; reconnecting", reason)
                        break
                    continue
                last_inbound = time.monotonic()
                if opcode == binary:
                    got_data = True
                    ticks = self.parser.feed(frame.data)
                    if ticks:
                        self._deliver(ticks)
                elif opcode == text:
                    got_data = True
                    self._handle_text(frame.data)
                elif opcode == close:
                    reason = f"mStock closed the connection{close_detail(frame.data)}"
                    close_code = code_of(frame.data)
                    break
        except websocket.WebSocketConnectionClosedException:
            reason = "connection closed"
        except (websocket.WebSocketException, OSError) as exc:
            reason = f"connection lost: {type(exc).__name__}: {redact(exc)}"
        finally:
            with self._send_lock:
                self._ws = None
                self._applied = {}
            ws.shutdown()
        if not self._stop.is_set():
            log.info("mStock feed: %s", reason)
        healthy = got_data or time.monotonic() - opened >= self.options.stable_after
        return healthy, reason, close_code

    def _backoff(self, attempt: int, reason: str) -> None:
        delay = backoff_delay(attempt, self.options.backoff_initial, self.options.backoff_max)
        self._set_state(RECONNECTING, f"{reason}; retry {attempt} in {delay:.1f} s")
        self._stop.wait(delay)

    def _report(self, end: SessionEnd) -> None:
        if self._on_session_end is None:
            return
        try:
            self._on_session_end(end)
        except Exception:  # noqa: BLE001 - same reason as _deliver
            log.exception("mStock feed: session-end callback failed")

    def _deliver(self, ticks: list[dict[str, Any]]) -> None:
        try:
            self._on_ticks(ticks)
        except Exception:  # noqa: BLE001 - a consumer bug must not stop the feed; it is logged with its traceback
            log.exception("mStock feed: tick callback failed")

    def _handle_text(self, payload: bytes) -> None:
        message = classify_text(payload)
        if message.kind == "error":
            log.warning("mStock feed error message: %s", redact(message.data))
        elif message.kind == "other":
            log.debug("mStock feed: unrecognised text frame (%d bytes)", len(payload))
        if self._on_text is not None:
            try:
                self._on_text(message)
            except Exception:  # noqa: BLE001 - same reason as _deliver
                log.exception("mStock feed: text callback failed")

    # ------------------------------------------------------------------ writer thread

    def _write_loop(self) -> None:
        interval = self.options.ping_interval
        next_ping = time.monotonic() + interval
        while not self._stop.is_set():
            woke = self._wake.wait(max(0.0, next_ping - time.monotonic()))
            if self._stop.is_set():
                break
            try:
                if woke:
                    # Let requests made close together join this batch (spec 11.2: OA batches per 500 ms).
                    self._stop.wait(self.options.batch_window)
                    self._wake.clear()
                    self._flush()
                if time.monotonic() >= next_ping:
                    self._ping()
                    next_ping = time.monotonic() + interval
            except Exception:  # noqa: BLE001 - the writer must outlive a bug; logged with its traceback
                log.exception("mStock feed: unexpected error in the writer")
                self._stop.wait(self.options.batch_window)

    def _ping(self) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            ws.ping()
        except (websocket.WebSocketException, OSError):
            pass  # the reader notices a dead socket and reconnects

    def _flush(self) -> None:
        """Send what changed between the desired and the applied subscriptions."""
        with self._send_lock:
            ws = self._ws
            if ws is None:
                return  # resynced in full on the next connection
            with self._lock:
                desired = dict(self._desired)
            applied = self._applied
            removals: dict[int, list[Key]] = {}
            additions: dict[int, list[Key]] = {}
            for key, mode in applied.items():
                if desired.get(key) != mode:
                    removals.setdefault(mode, []).append(key)
            for key, mode in desired.items():
                if applied.get(key) != mode:
                    additions.setdefault(mode, []).append(key)
            try:
                # Unsubscribes first so that a mode change ends at the new mode.
                for mode in sorted(removals):
                    self._send_requests(ws, ACTION_UNSUBSCRIBE, mode, removals[mode])
                    for key in removals[mode]:
                        applied.pop(key, None)
                for mode in sorted(additions):
                    self._send_requests(ws, ACTION_SUBSCRIBE, mode, additions[mode])
                    for key in additions[mode]:
                        applied[key] = mode
            except (websocket.WebSocketException, OSError) as exc:
                log.debug("mStock feed: request not sent (%s); it is resent after reconnecting", type(exc).__name__)

    def _send_requests(self, ws: websocket.WebSocket, action: int, mode: int, keys: list[Key]) -> None:
        for text in request_frames(
            action, mode, group_by_exchange(keys), max_tokens=self.options.max_tokens_per_request
        ):
            ws.send(text)
        log.debug("mStock feed: %s %d instruments in mode %d", "subscribed" if action else "unsubscribed", len(keys), mode)

    # ------------------------------------------------------------------ state

    def _set_state(self, state: str, reason: str) -> None:
        with self._state_cond:
            if state == self._state and reason == self._reason:
                return
            if self._state == STOPPED:
                return
            self._state, self._reason = state, reason
            self._state_cond.notify_all()
        if self._on_state is not None:
            try:
                self._on_state(state, reason)
            except Exception:  # noqa: BLE001 - same reason as _deliver
                log.exception("mStock feed: state callback failed")
