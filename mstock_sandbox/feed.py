"""The sandbox's binary market-data feed: a stand-in for ``wss://ws.mstock.trade`` (spec 11).

Built on the ``websockets`` package's synchronous server (threads, no asyncio). It
behaves the way spec 11 and the simulator checklist (spec 13.8) describe:

* the upgrade carries ``?API_KEY=..&ACCESS_TOKEN=..``; bad or missing credentials are
  refused with HTTP 401 before any WebSocket exists (spec 11.1 "Connection will be
  rejected");
* the client must send ``LOGIN:<token>`` within ``login_timeout`` seconds, else the
  socket is closed (1008). No acknowledgement is sent (spec 11.1);
* JSON subscribe/unsubscribe requests (spec 11.2) change the connection's
  subscriptions; a later subscribe for the same token replaces its mode. Errors come
  back as ``{"type": "error", "data": "..."}``;
* ticks leave as header-prefixed little-endian frames (``uint16 count, uint16 size``
  + packets), several tokens per frame, prices in paise, timestamps in seconds since
  1980-01-01 00:00 IST, OI change % as float64, depth 5 bids (flag 1) then 5 asks
  (flag 0) (spec 11.3). A token is served only under the exchangeType its market
  snapshot belongs to, like a real segment-wise feed: subscribing a currency token on
  the cash segment gets nothing (upstream-review D11).

The packet encoder is written independently of ``broker.mstock.streaming.parser`` so
the two check each other. Test controls: :meth:`FeedServer.publish_now`,
:meth:`FeedServer.drop_all_connections`, :meth:`FeedServer.broadcast_text`,
:meth:`FeedServer.received_requests`.
"""

from __future__ import annotations

import http
import json
import logging
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from broker.mstock.redact import guard_logger

IST = timezone(timedelta(hours=5, minutes=30), "IST")
EPOCH_1980_IST = datetime(1980, 1, 1, tzinfo=IST)
PACKET_SIZE = {1: 51, 2: 123, 3: 379}
BID_FLAG, ASK_FLAG = 1, 0

log = guard_logger(logging.getLogger(__name__))


class Market(Protocol):
    """What the feed needs from ``mstock_sandbox.market`` (its ``MarketSnapshot``)."""

    def snapshot(self, token: str, exchange: str | int | None = None) -> Any: ...


# ------------------------------------------------------------------ packet encoder


def _paise(rupees: float | None) -> int:
    return int(round((rupees or 0.0) * 100))


def _seconds_1980(moment: datetime | None) -> int:
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)  # the sandbox keeps naive times in IST
    return int((moment - EPOCH_1980_IST).total_seconds())


def _levels(levels: Any, flag: int) -> bytes:
    rows = list(levels or [])[:5]
    rows += [(0.0, 0, 0)] * (5 - len(rows))
    return b"".join(struct.pack("<hqqh", flag, int(qty), _paise(price), int(orders)) for price, qty, orders in rows)


def encode_packet(snapshot: Any, mode: int, exchange_type: int, sequence: int) -> bytes:
    """One packet of ``mode`` (1 = 51, 2 = 123, 3 = 379 bytes) for a market snapshot."""
    token = str(snapshot.token).encode("ascii")[:25].ljust(25, b"\0")
    out = struct.pack(
        "<BB25sqqq", mode, exchange_type, token, sequence, _seconds_1980(snapshot.exchange_time), _paise(snapshot.ltp)
    )
    if mode >= 2:
        out += struct.pack(
            "<qqqddqqqq",
            int(snapshot.last_qty),
            _paise(snapshot.avg_price),
            int(snapshot.volume),
            float(snapshot.total_buy_qty),
            float(snapshot.total_sell_qty),
            _paise(snapshot.open),
            _paise(snapshot.high),
            _paise(snapshot.low),
            _paise(snapshot.close),
        )
    if mode == 3:
        out += struct.pack("<qqd", _seconds_1980(snapshot.last_trade_time), int(snapshot.oi), float(snapshot.oi_change_pct))
        out += _levels(snapshot.bids, BID_FLAG) + _levels(snapshot.asks, ASK_FLAG)
        out += struct.pack(
            "<qqqq",
            _paise(snapshot.upper_circuit),
            _paise(snapshot.lower_circuit),
            _paise(snapshot.high_52w),
            _paise(snapshot.low_52w),
        )
    return out


def encode_frames(packets_by_mode: dict[int, list[bytes]], batch_size: int) -> list[bytes]:
    """Header-prefixed frames: one packet size per frame, at most ``batch_size`` packets each."""
    frames = []
    for mode in sorted(packets_by_mode):
        packets = packets_by_mode[mode]
        for start in range(0, len(packets), batch_size):
            chunk = packets[start : start + batch_size]
            frames.append(struct.pack("<HH", len(chunk), PACKET_SIZE[mode]) + b"".join(chunk))
    return frames


# ------------------------------------------------------------------ server


@dataclass(eq=False)  # identity semantics: sessions live in a set
class _Session:
    connection: ServerConnection
    token: str
    subscriptions: dict[tuple[int, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FeedServer:
    """``FeedServer(market, check_credentials=state.check_feed_credentials).start()``; ``.url``."""

    def __init__(
        self,
        market: Market,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        check_credentials: Callable[[str, str], bool] | None = None,
        publish_interval: float | None = 0.2,
        login_timeout: float = 5.0,
        batch_size: int = 50,
        tick_market: bool = False,
    ) -> None:
        self.market = market
        self.host = host
        self.port = port
        self.check_credentials = check_credentials or (lambda api_key, token: bool(api_key and token))
        self.publish_interval = publish_interval
        self.login_timeout = login_timeout
        self.batch_size = batch_size
        self.tick_market = tick_market
        self.url: str | None = None
        self.rejected_upgrades = 0
        self.logins = 0
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sessions: set[_Session] = set()  # logged in
        self._requests: list[dict[str, Any]] = []
        self._sequence = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FeedServer:
        self._server = serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_upgrade,
            compression=None,
            ping_interval=None,
            close_timeout=1.0,  # a client that never closes its TCP side must not stall stop()
            logger=log,
        )
        self.port = self._server.socket.getsockname()[1]
        self.url = f"ws://{self.host}:{self.port}"
        serving = threading.Thread(target=self._server.serve_forever, name="sandbox-feed-server", daemon=True)
        self._threads = [serving]
        if self.publish_interval:
            self._threads.append(threading.Thread(target=self._publish_loop, name="sandbox-feed-publisher", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        for thread in self._threads:
            thread.join(5)
        self._threads = []

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls

    def publish_now(self) -> int:
        """Send every session's subscribed tokens once, now; return the frames sent."""
        with self._lock:
            sessions = list(self._sessions)
        return sum(self._publish(session, None) for session in sessions)

    def drop_all_connections(self) -> int:
        """Cut every connection without a close frame (a network failure); return how many."""
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            try:
                session.connection.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(sessions)

    def broadcast_text(self, payload: dict[str, Any] | str) -> None:
        """Push a text frame (e.g. an order update, spec 11.4) to every logged-in client."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            try:
                session.connection.send(text)
            except ConnectionClosed:
                pass

    def received_requests(self) -> list[dict[str, Any]]:
        """Every JSON request received so far, in order (across connections)."""
        with self._lock:
            return list(self._requests)

    def subscriptions(self) -> dict[tuple[int, str], int]:
        """The union of all logged-in sessions' subscriptions."""
        merged: dict[tuple[int, str], int] = {}
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            with session.lock:
                merged.update(session.subscriptions)
        return merged

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    # ------------------------------------------------------------------ protocol

    def _check_upgrade(self, connection: ServerConnection, request: Any):
        query = parse_qs(urlsplit(request.path).query)
        api_key = (query.get("API_KEY") or [""])[0]
        token = (query.get("ACCESS_TOKEN") or [""])[0]
        if not api_key or not token or not self.check_credentials(api_key, token):
            with self._lock:
                self.rejected_upgrades += 1
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid API key or access token\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        query = parse_qs(urlsplit(connection.request.path).query)
        token = (query.get("ACCESS_TOKEN") or [""])[0]
        try:
            first = connection.recv(timeout=self.login_timeout)
        except TimeoutError:
            connection.close(1008, "LOGIN not received")
            return
        except ConnectionClosed:
            return
        if not isinstance(first, str) or first != f"LOGIN:{token}":
            connection.close(1008, "LOGIN required")
            return
        session = _Session(connection, token)
        with self._lock:
            self._sessions.add(session)
            self.logins += 1
        try:
            for message in connection:
                self._on_request(session, message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._sessions.discard(session)

    def _on_request(self, session: _Session, message: str | bytes) -> None:
        try:
            body = json.loads(message)
            action = int(body["action"])
            params = body["params"]
            mode = int(params.get("mode") or 0)
            keys = [
                (int(entry["exchangeType"]), str(tok)) for entry in params["tokenList"] for tok in entry["tokens"]
            ]
            if action not in (0, 1) or (action == 1 and mode not in PACKET_SIZE):
                raise ValueError(f"bad action {action} / mode {mode}")
        except (ValueError, KeyError, TypeError) as exc:
            self._send(session, json.dumps({"type": "error", "data": f"invalid request: {exc}"}))
            return
        with self._lock:
            self._requests.append(body)
        with session.lock:
            for key in keys:
                if action == 1:
                    session.subscriptions[key] = mode
                else:
                    session.subscriptions.pop(key, None)
        if action == 1:
            self._publish(session, set(keys))  # a fresh subscriber gets the current picture at once

    # ------------------------------------------------------------------ publishing

    def _publish_loop(self) -> None:
        while not self._stop.wait(self.publish_interval):
            if self.tick_market and hasattr(self.market, "tick"):
                self.market.tick()
            self.publish_now()

    def _publish(self, session: _Session, only: set[tuple[int, str]] | None) -> int:
        with session.lock:
            wanted = [(key, mode) for key, mode in session.subscriptions.items() if only is None or key in only]
        packets: dict[int, list[bytes]] = {}
        for (exchange_type, token), mode in wanted:
            snapshot = self.market.snapshot(token, exchange_type)
            if snapshot is None or int(snapshot.exchange_type) != exchange_type:
                continue  # unknown token, or asked on the wrong segment: the real feed stays silent too
            packets.setdefault(mode, []).append(encode_packet(snapshot, mode, exchange_type, self._next_sequence()))
        frames = encode_frames(packets, self.batch_size)
        for frame in frames:
            if not self._send(session, frame):
                return 0
        return len(frames)

    def _next_sequence(self) -> int:
        with self._lock:
            self._sequence += 1
            return self._sequence

    def _send(self, session: _Session, data: str | bytes) -> bool:
        try:
            session.connection.send(data)
            return True
        except ConnectionClosed:
            return False
