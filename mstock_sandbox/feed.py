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
* ticks leave as little-endian packets of 51 / 123 / 379 bytes (spec 11.3): prices as
  integers (rupees x 100; currency x ``currency_divisor``), timestamps in seconds since
  1980-01-01 00:00 IST (or UTC), OI change % as float64, depth 5 bids (flag 1) then 5
  asks (flag 0). A token is served only under the exchangeType its market snapshot
  belongs to, like a real segment-wise feed: subscribing a currency token on the cash
  segment gets nothing (upstream-review D11);
* order and trade updates leave as JSON text frames (spec 11.4, see
  ``mstock_sandbox.server.order_frame``) on every logged-in socket.

Framing of the binary frames (``framing=``), the exact bytes:

* ``header`` (default, documented): ``<H count><H size>`` then ``count`` packets of
  ``size`` bytes, little-endian; one frame holds packets of one mode only, at most
  ``batch_size`` of them. ``b"\x02\x00\x33\x00" + 2 x 51 bytes`` is two LTP packets;
* ``bare``: every packet is a frame of its own (exactly 51, 123 or 379 bytes), as the
  official SDKs read them;
* ``big-endian``: ``>H count`` then, for each packet, ``>H length`` and the packet
  (``b"\x00\x02" + b"\x00\x33" + 51 bytes + b"\x00\x33" + 51 bytes``): the splitter a
  tested third-party client uses and the official Python SDK ships unused. Only the
  framing is big-endian; the packets inside stay little-endian.

Open points of spec 11.3 / 16.9 are constructor options (and ``SandboxConfig`` knobs):
framing, the currency price divisor, the epoch's zone, the depth entries' side flags and
order, and how many sockets one access token may hold (``max_sockets``: over it,
``socket_policy`` "refuse" answers the upgrade with HTTP 429, "evict" closes the oldest
socket with close code 1008; both [INVENTED]).

The packet encoder is written independently of ``broker.mstock.streaming.parser`` so
the two check each other. Test controls: :meth:`FeedServer.publish_now`,
:meth:`FeedServer.drop_all_connections`, :meth:`FeedServer.broadcast_text`,
:meth:`FeedServer.received_requests`, :meth:`FeedServer.last_published`,
:meth:`FeedServer.connections_for`.
"""

from __future__ import annotations

import http
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from broker.mstock.redact import guard_logger

from .clock import IST

EPOCH_1980_IST = datetime(1980, 1, 1, tzinfo=IST)
EPOCH_1980_UTC = datetime(1980, 1, 1, tzinfo=timezone.utc)
EPOCHS = {"ist": EPOCH_1980_IST, "utc": EPOCH_1980_UTC}
PACKET_SIZE = {1: 51, 2: 123, 3: 379}
BID_FLAG, ASK_FLAG = 1, 0
FRAMINGS = ("header", "bare", "big-endian")
CURRENCY_EXCHANGE_TYPE = 13
EVICTED_CLOSE_CODE = 1008
_PENDING_UPGRADE_SECONDS = 10.0  # an accepted upgrade whose handler never started is forgotten after this

log = guard_logger(logging.getLogger(__name__))


class Market(Protocol):
    """What the feed needs from ``mstock_sandbox.market`` (its ``MarketSnapshot``)."""

    def snapshot(self, token: str, exchange: str | int | None = None) -> Any: ...


# ------------------------------------------------------------------ packet encoder


@dataclass(frozen=True)
class PacketFormat:
    """The encodings spec 11.3 leaves open; the defaults are what the plugin assumes."""

    currency_divisor: int = 100  # prices of exchangeType 13 are rupees x this
    epoch: datetime = EPOCH_1980_IST  # timestamps count seconds from this moment
    bid_flag: int = BID_FLAG
    ask_flag: int = ASK_FLAG
    asks_first: bool = False  # depth entries 0..4 are asks, 5..9 bids

    def divisor(self, exchange_type: int) -> int:
        return self.currency_divisor if exchange_type == CURRENCY_EXCHANGE_TYPE else 100


DEFAULT_FORMAT = PacketFormat()


def _price(rupees: float | None, divisor: int) -> int:
    return int(round((rupees or 0.0) * divisor))


def _seconds_1980(moment: datetime | None, epoch: datetime = EPOCH_1980_IST) -> int:
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)  # the sandbox keeps naive times in IST
    return int((moment - epoch).total_seconds())


def _levels(levels: Any, flag: int, divisor: int) -> bytes:
    rows = list(levels or [])[:5]
    rows += [(0.0, 0, 0)] * (5 - len(rows))
    return b"".join(
        struct.pack("<hqqh", flag, int(qty), _price(price, divisor), int(orders)) for price, qty, orders in rows
    )


def encode_packet(snapshot: Any, mode: int, exchange_type: int, sequence: int, fmt: PacketFormat = DEFAULT_FORMAT) -> bytes:
    """One packet of ``mode`` (1 = 51, 2 = 123, 3 = 379 bytes) for a market snapshot."""
    d = fmt.divisor(exchange_type)
    token = str(snapshot.token).encode("ascii")[:25].ljust(25, b"\0")
    out = struct.pack(
        "<BB25sqqq", mode, exchange_type, token, sequence,
        _seconds_1980(snapshot.exchange_time, fmt.epoch), _price(snapshot.ltp, d),
    )
    if mode >= 2:
        out += struct.pack(
            "<qqqddqqqq",
            int(snapshot.last_qty),
            _price(snapshot.avg_price, d),
            int(snapshot.volume),
            float(snapshot.total_buy_qty),
            float(snapshot.total_sell_qty),
            _price(snapshot.open, d),
            _price(snapshot.high, d),
            _price(snapshot.low, d),
            _price(snapshot.close, d),
        )
    if mode == 3:
        out += struct.pack(
            "<qqd", _seconds_1980(snapshot.last_trade_time, fmt.epoch), int(snapshot.oi), float(snapshot.oi_change_pct)
        )
        bids = _levels(snapshot.bids, fmt.bid_flag, d)
        asks = _levels(snapshot.asks, fmt.ask_flag, d)
        out += asks + bids if fmt.asks_first else bids + asks
        out += struct.pack(
            "<qqqq",
            _price(snapshot.upper_circuit, d),
            _price(snapshot.lower_circuit, d),
            _price(snapshot.high_52w, d),
            _price(snapshot.low_52w, d),
        )
    return out


def encode_frames(packets_by_mode: dict[int, list[bytes]], batch_size: int, framing: str = "header") -> list[bytes]:
    """Binary frames in ``framing`` (see the module docstring): one mode per frame, at most
    ``batch_size`` packets each; ``bare`` sends every packet as a frame of its own."""
    if framing not in FRAMINGS:
        raise ValueError(f"unknown feed framing {framing!r}; use one of {', '.join(FRAMINGS)}")
    frames = []
    for mode in sorted(packets_by_mode):
        packets = packets_by_mode[mode]
        if framing == "bare":
            frames.extend(packets)
            continue
        for start in range(0, len(packets), batch_size):
            chunk = packets[start : start + batch_size]
            if framing == "header":
                frames.append(struct.pack("<HH", len(chunk), PACKET_SIZE[mode]) + b"".join(chunk))
            else:
                frames.append(struct.pack(">H", len(chunk)) + b"".join(struct.pack(">H", len(p)) + p for p in chunk))
    return frames


# ------------------------------------------------------------------ server


@dataclass(eq=False)  # identity semantics: sessions live in a set
class _Session:
    connection: ServerConnection
    token: str
    subscriptions: dict[tuple[int, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class SentTick:
    """What the feed last sent for one (exchangeType, token): the values, in rupees."""

    exchange_type: int
    token: str
    mode: int
    sequence: int
    snapshot: Any  # a copy of the market snapshot the packet was encoded from


@dataclass(eq=False)
class _Socket:
    """One upgraded (or upgrading) WebSocket of an access token."""

    connection: ServerConnection
    since: float
    started: bool = False


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
        framing: str = "header",
        packet_format: PacketFormat = DEFAULT_FORMAT,
        max_sockets: int | None = None,
        socket_policy: str = "refuse",
    ) -> None:
        if framing not in FRAMINGS:
            raise ValueError(f"unknown feed framing {framing!r}; use one of {', '.join(FRAMINGS)}")
        if socket_policy not in ("refuse", "evict"):
            raise ValueError(f"unknown socket policy {socket_policy!r}; use refuse or evict")
        self.market = market
        self.host = host
        self.port = port
        self.check_credentials = check_credentials or (lambda api_key, token: bool(api_key and token))
        self.publish_interval = publish_interval
        self.login_timeout = login_timeout
        self.batch_size = batch_size
        self.tick_market = tick_market
        self.framing = framing
        self.packet_format = packet_format
        self.max_sockets = max_sockets
        self.socket_policy = socket_policy
        self.url: str | None = None
        self.rejected_upgrades = 0
        self.refused_sockets = 0  # upgrades refused for exceeding max_sockets
        self.evicted_sockets = 0  # sockets closed because a newer one took their place
        self.logins = 0
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sessions: set[_Session] = set()  # logged in
        self._sockets: dict[str, list[_Socket]] = {}  # access token -> its sockets, oldest first
        self._requests: list[dict[str, Any]] = []
        self._sent: dict[tuple[int, str], SentTick] = {}
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
        self.url = f"ws://[{self.host}]:{self.port}" if ":" in self.host else f"ws://{self.host}:{self.port}"
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
        """Push a text frame (e.g. an order update, spec 11.4) to every logged-in client.

        The sandbox has one account, so every logged-in socket is one of its sockets.
        """
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

    def connections_for(self, access_token: str) -> int:
        """Open sockets of one access token (logged in or not yet)."""
        with self._lock:
            return len(self._live_sockets(access_token))

    def last_published(self, token: str, exchange_type: int) -> SentTick | None:
        """The last packet sent for ``token`` on ``exchange_type`` (to any socket), or None."""
        with self._lock:
            return self._sent.get((int(exchange_type), str(token)))

    # ------------------------------------------------------------------ protocol

    def _check_upgrade(self, connection: ServerConnection, request: Any):
        query = parse_qs(urlsplit(request.path).query)
        api_key = (query.get("API_KEY") or [""])[0]
        token = (query.get("ACCESS_TOKEN") or [""])[0]
        if not api_key or not token or not self.check_credentials(api_key, token):
            with self._lock:
                self.rejected_upgrades += 1
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid API key or access token\n")
        with self._lock:
            live = self._live_sockets(token)
            if self.max_sockets is not None and self.socket_policy == "refuse" and len(live) >= self.max_sockets:
                self.refused_sockets += 1
                # [INVENTED]: mStock documents no per-token socket limit nor its refusal.
                return connection.respond(
                    http.HTTPStatus.TOO_MANY_REQUESTS, "too many connections for this access token\n"
                )
            # Reserved now, so two upgrades racing each other cannot both pass the limit.
            self._sockets.setdefault(token, []).append(_Socket(connection, time.monotonic()))
        return None

    def _live_sockets(self, token: str) -> list[_Socket]:
        """Sockets of ``token`` still counted (caller holds the lock); forgets stale reservations."""
        entries = self._sockets.get(token, [])
        now = time.monotonic()
        entries[:] = [e for e in entries if e.started or now - e.since < _PENDING_UPGRADE_SECONDS]
        return entries

    def _register(self, connection: ServerConnection, token: str) -> list[ServerConnection]:
        """Mark this socket started; return the older sockets an ``evict`` policy must close."""
        with self._lock:
            entries = self._live_sockets(token)
            mine = next((e for e in entries if e.connection is connection), None)
            if mine is None:
                mine = _Socket(connection, time.monotonic())
                entries.append(mine)
            mine.started = True
            if self.max_sockets is None or self.socket_policy != "evict":
                return []
            others = [e for e in entries if e is not mine]
            excess = len(entries) - self.max_sockets
            doomed = others[:max(excess, 0)]
            for entry in doomed:
                entries.remove(entry)
            self.evicted_sockets += len(doomed)
            return [e.connection for e in doomed]

    def _evict(self, connections: list[ServerConnection]) -> None:
        """The new socket wins: the older ones get nothing more and are closed
        ([INVENTED] code and reason), on a thread of their own so a slow client cannot
        delay the new socket."""
        with self._lock:
            self._sessions = {s for s in self._sessions if s.connection not in connections}

        def close_all() -> None:
            for old in connections:
                try:
                    old.close(EVICTED_CLOSE_CODE, "replaced by a newer connection with the same access token")
                except (ConnectionClosed, OSError):
                    pass

        threading.Thread(target=close_all, name="sandbox-feed-evict", daemon=True).start()

    def _unregister(self, connection: ServerConnection, token: str) -> None:
        with self._lock:
            entries = self._sockets.get(token, [])
            entries[:] = [e for e in entries if e.connection is not connection]
            if not entries:
                self._sockets.pop(token, None)

    def _handle(self, connection: ServerConnection) -> None:
        query = parse_qs(urlsplit(connection.request.path).query)
        token = (query.get("ACCESS_TOKEN") or [""])[0]
        doomed = self._register(connection, token)
        if doomed:
            self._evict(doomed)
        try:
            self._serve_socket(connection, token)
        finally:
            self._unregister(connection, token)

    def _serve_socket(self, connection: ServerConnection, token: str) -> None:
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
        sent: list[SentTick] = []
        for (exchange_type, token), mode in wanted:
            snapshot = self.market.snapshot(token, exchange_type)
            if snapshot is None or int(snapshot.exchange_type) != exchange_type:
                continue  # unknown token, or asked on the wrong segment: the real feed stays silent too
            sequence = self._next_sequence()
            packets.setdefault(mode, []).append(encode_packet(snapshot, mode, exchange_type, sequence, self.packet_format))
            sent.append(SentTick(exchange_type, token, mode, sequence, snapshot))
        if sent:
            with self._lock:
                for tick in sent:
                    self._sent[(tick.exchange_type, tick.token)] = tick
        frames = encode_frames(packets, self.batch_size, self.framing)
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
