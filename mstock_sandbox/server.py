"""The HTTP side of the sandbox: routing, credential checks, rate limits, faults, logging.

A standard-library ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, daemon threads) bound
to loopback only. Every request goes through the same steps, in the order the simulator
checklist of spec 13 gives: route -> armed faults -> ``X-Mirae-Version`` -> ``X-PrivateKey``
-> bearer token -> rate limit -> handler. Paths match case-insensitively (ASP.NET Core
routing, spec 1.1 [INFERRED]); quote, historical, trades and order details accept
GET-with-body as well as POST (spec 1.3).

Network realism (all off by default, see :class:`~.config.SandboxConfig`):

* ``connect_latency_ms``: the first request of each new TCP connection waits that long
  (a real TCP + TLS handshake); requests on a reused connection do not;
* ``arrival_jitter_ms``: each request waits a random 0..N ms before the server counts it
  (the network between a client's send and the server's arrival);
* rate limits count the moment of arrival, before any simulated processing latency
  (``base_latency``, the ``latency`` fault);
* ``idle_timeout``: an idle keep-alive connection is closed after that many seconds, and
  every response says so in ``Keep-Alive: timeout=N``.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import queue
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import handlers as h
from .config import SandboxConfig
from .envelopes import (
    ApiError,
    Reply,
    html_page,
    ip_error,
    key_error,
    not_found,
    problem_details,
    rate_limited,
    token_error,
    version_error,
)
from .faults import Fault, FaultInjector
from .log import SessionLog
from .quotes import quote
from .sessions import Session
from .state import SandboxState

API_PREFIX = "/openapi/typeb"


@dataclass(frozen=True)
class Endpoint:
    name: str  # the same dotted names as the client's route table (broker/mstock/transport/routes.py)
    methods: tuple[str, ...]
    path: str
    access: str  # "none" | "key" | "bearer" (spec 1.2)
    category: str | None  # rate-limit category (spec 2.1)
    handler: Callable[[h.Call], Reply]

    def match(self, parts: list[str]) -> dict[str, str] | None:
        pattern = self.path.strip("/").split("/")
        if len(pattern) != len(parts):
            return None
        params: dict[str, str] = {}
        for want, got in zip(pattern, parts):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want.lower() != got.lower():
                return None
        return params


def _option_chain_unavailable(call: h.Call) -> Reply:
    raise ApiError(Reply(404, {"status": False, "message": "Option chain is not available in the sandbox.",
                               "errorcode": "IA404", "data": None}, outcome="IA404 option chain not simulated"))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("auth.login", ("POST",), "/connect/login", "none", None, h.login),
    Endpoint("auth.verify_totp", ("POST",), "/session/verifytotp", "key", None, h.verify_totp),
    Endpoint("auth.session_token", ("POST",), "/session/token", "key", None, h.session_token),
    Endpoint("auth.logout", ("GET",), "/logout", "bearer", None, h.logout),
    Endpoint("user.funds", ("GET",), "/user/fundsummary", "bearer", None, h.funds),
    Endpoint("orders.place", ("POST",), "/orders/regular", "bearer", "order", h.place_order),
    Endpoint("orders.modify", ("PUT",), "/orders/regular/{orderid}", "bearer", "order", h.modify_order),
    Endpoint("orders.cancel", ("DELETE",), "/orders/regular/{orderid}", "bearer", "order", h.cancel_order),
    Endpoint("orders.cancel_all", ("POST",), "/orders/cancelall", "bearer", "order", h.cancel_all),
    Endpoint("orders.list", ("GET",), "/orders", "bearer", None, h.order_book),
    Endpoint("orders.details", ("GET", "POST"), "/order/details", "bearer", None, h.order_details),
    Endpoint("orders.trades", ("GET",), "/tradebook", "bearer", None, h.trade_book),
    Endpoint("orders.trade_history", ("GET", "POST"), "/trades", "bearer", None, h.trade_history),
    Endpoint("portfolio.positions", ("GET",), "/portfolio/positions", "bearer", None, h.positions),
    Endpoint("portfolio.holdings", ("GET",), "/portfolio/holdings", "bearer", None, h.holdings),
    Endpoint("portfolio.convert", ("POST",), "/portfolio/convertposition", "bearer", None, h.convert_position),
    Endpoint("margins.orders", ("POST",), "/margins/orders", "bearer", None, h.margins),
    Endpoint("market.quote", ("GET", "POST"), "/instruments/quote", "bearer", "quote",
             lambda call: quote(call.state, call.body)),
    Endpoint("market.historical", ("GET", "POST"), "/instruments/historical", "bearer", "data", h.historical_candles),
    Endpoint("market.intraday", ("POST",), "/instruments/intraday", "bearer", "data", h.intraday_candles),
    Endpoint("market.scrip_master", ("GET",), "/instruments/OpenAPIScripMaster", "bearer", None, h.scrip_master),
    Endpoint("market.option_chain_master", ("GET",), "/getoptionchainmaster/{exchange_id}", "bearer", None,
             _option_chain_unavailable),
    Endpoint("market.option_chain", ("GET",), "/GetOptionChain/{exchange_id}/{expiry}/{token}", "bearer", None,
             _option_chain_unavailable),
)


class _Dropped(Exception):
    """The request was executed but its answer must never be sent (fault ``drop_response``)."""


class Dispatcher:
    """Turns one parsed HTTP request into a :class:`Reply` (no sockets here, easy to test)."""

    def __init__(self, state: SandboxState, faults: FaultInjector, log: SessionLog, config: SandboxConfig) -> None:
        self.state = state
        self.faults = faults
        self.log = log
        self.config = config
        self._jitter = random.Random(f"{config.market_seed}:jitter")
        self._jitter_lock = threading.Lock()
        # Every simulated delay (handshake, jitter, latency) goes through here, so a test
        # can record the delays, or advance a fake clock instead of waiting.
        self.sleep: Callable[[float], None] = time.sleep

    def arrival_delay(self) -> float:
        """Seconds this request spends on the simulated network before it arrives."""
        if self.config.arrival_jitter_ms <= 0:
            return 0.0
        with self._jitter_lock:
            return self._jitter.uniform(0.0, self.config.arrival_jitter_ms) / 1000.0

    def find(self, method: str, path: str) -> tuple[Endpoint | None, dict[str, str], bool]:
        """(endpoint, path params, path_known). ``path_known`` without endpoint means wrong method."""
        if not path.lower().startswith(API_PREFIX):
            return None, {}, False
        parts = [p for p in path[len(API_PREFIX):].split("/") if p]
        known = False
        for endpoint in ENDPOINTS:
            params = endpoint.match(parts)
            if params is None:
                continue
            known = True
            if method in endpoint.methods:
                return endpoint, params, True
        return None, {}, known

    def handle(
        self, endpoint: Endpoint, method: str, params: dict[str, str], headers: Any, raw: bytes,
        arrived: float | None = None,
    ) -> Reply:
        """Answer one request; ``arrived`` is its arrival on the rate limiter's clock (default: now)."""
        faults = self.faults.take(endpoint.name)
        kinds = {f.kind: f for f in faults}
        delay = self.config.base_latency
        if "latency" in kinds:
            delay += float(kinds["latency"].params.get("seconds", 0.5))
        try:
            try:
                session = self._authorise(endpoint, headers, kinds)
                self._limit(endpoint, headers, kinds, arrived)
            finally:
                if delay > 0:  # processing time: after the arrival was counted
                    self.sleep(delay)
            early = self._fault_reply(kinds, executed=False)
            if early is not None:
                return early
            call = h.Call(self.state, endpoint.name, method, params, self._parse(raw), session)
            reply = endpoint.handler(call)
        except ApiError as exc:
            reply = exc.reply
        late = self._fault_reply(kinds, executed=True)
        if "drop_response" in kinds:
            raise _Dropped(reply.outcome)
        return late or reply

    def _authorise(self, endpoint: Endpoint, headers: Any, kinds: dict[str, Fault]) -> Session | None:
        if (headers.get("X-Mirae-Version") or "").strip() != "1":
            raise ApiError(version_error())
        if endpoint.access == "none":
            return None
        if not self.state.sessions.api_key_ok(headers.get("X-PrivateKey")):
            raise ApiError(key_error(endpoint.name))
        if "ip_not_whitelisted" in kinds:
            raise ApiError(ip_error())
        if endpoint.access == "key":
            return None
        auth = (headers.get("Authorization") or "").strip()
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if "expire_session" in kinds and bearer:
            doomed = self.state.sessions.session_for(bearer)
            if doomed is not None:
                self.state.sessions.expire(doomed)
        session = self.state.sessions.session_for(bearer)
        if session is None:
            raise ApiError(token_error(endpoint.name))
        return session

    def _limit(self, endpoint: Endpoint, headers: Any, kinds: dict[str, Fault], arrived: float | None) -> None:
        shape = self.config.rate_limit_shape
        if "rate_limit" in kinds:
            raise ApiError(rate_limited(endpoint.category or "any", shape))
        key = headers.get("X-PrivateKey") or ""
        if not self.state.rate_limits.allow(key, endpoint.category, at=arrived):
            raise ApiError(rate_limited(endpoint.category or "any", shape))

    @staticmethod
    def _fault_reply(kinds: dict[str, Fault], *, executed: bool) -> Reply | None:
        for kind in ("http_error", "html"):
            fault = kinds.get(kind)
            if fault is None or bool(fault.params.get("execute", False)) != executed:
                continue
            status = int(fault.params.get("status", 502 if kind == "html" else 500))
            if kind == "html":
                return html_page(status)
            body = fault.params.get("body", {"status": "false", "message": "Internal server error",
                                             "errorcode": "IA500", "data": None})
            content_type = "application/json; charset=utf-8" if isinstance(body, (dict, list)) else "text/plain"
            return Reply(status, body, content_type=content_type, outcome=f"injected HTTP {status}")
        return None

    @staticmethod
    def _parse(raw: bytes) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(problem_details({"$": ["The request body is not valid JSON."]})) from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Kestrel"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        # An idle keep-alive connection times out waiting for its next request line, and
        # BaseHTTPRequestHandler then closes it.
        self.timeout = self.server.dispatcher.config.idle_timeout
        super().setup()
        # Headers and body leave in separate writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK add ~40 ms to every request on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handshake = self.server.dispatcher.config.connect_latency_ms
        if handshake > 0:
            self.server.dispatcher.sleep(handshake / 1000.0)  # the first request on this connection pays it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the session log replaces it
        pass

    def _serve(self) -> None:
        dispatcher = self.server.dispatcher
        jitter = dispatcher.arrival_delay()
        if jitter > 0:
            dispatcher.sleep(jitter)
        arrived = dispatcher.state.rate_limits.now()
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        endpoint, params, known = dispatcher.find(self.command, path)
        name = endpoint.name if endpoint else path
        if endpoint is None:
            reply = Reply(405, b"", outcome="method not allowed") if known else not_found()
        else:
            try:
                reply = dispatcher.handle(endpoint, self.command, params, self.headers, raw, arrived)
            except _Dropped as dropped:
                dispatcher.log.record(dispatcher.state.clock(), self.command, name, "---",
                                      f"{dropped} [response dropped]")
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
        # Logged before writing, so a test that has its answer also finds its log line.
        dispatcher.log.record(dispatcher.state.clock(), self.command, name, reply.status, reply.outcome or "ok")
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (e.g. an injected latency)

    def _write(self, reply: Reply) -> None:
        if isinstance(reply.body, (bytes, bytearray)):
            payload = bytes(reply.body)
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_response(reply.status)
        if payload or reply.status != 405:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        idle = self.server.dispatcher.config.idle_timeout
        if idle is not None and not self.close_connection:
            self.send_header("Keep-Alive", f"timeout={idle:g}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # On Windows SO_REUSEADDR lets a second server bind a port that is in use.
    allow_reuse_address = sys.platform != "win32"
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class PortInUse(OSError):
    """The port the sandbox was asked to listen on is taken by another program."""

    def __init__(self, port: int, role: str) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} is in use")
        self.port = port
        self.role = role  # "HTTP" or "feed"


def is_port_in_use(exc: OSError) -> bool:
    return exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)) or (
        getattr(exc, "winerror", None) == 10048
    )


def check_loopback(host: str) -> str:
    """The sandbox never listens beyond this machine: it hands out tokens over plain HTTP."""
    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the sandbox binds to loopback only (127.0.0.1 / ::1 / localhost), not {host!r}")


def order_frame(kind: str, row: dict[str, Any], shape: str = "current") -> dict[str, Any]:
    """An order/trade text frame (spec 11.4 [CONFLICT]): today's SDKs read ``current``,
    ``{"order_status": kind, "orderData": row}``; older clients ``legacy``,
    ``{"type": kind, "data": row}``."""
    if shape == "legacy":
        return {"type": kind, "data": row}
    return {"order_status": kind, "orderData": row}


class UpdateRelay:
    """Moves OMS order/trade updates to the feed on a thread of its own (never under the state lock).

    One FIFO queue and one thread: frames leave in the order the OMS changed, within
    milliseconds of the change.
    """

    def __init__(self, send: Callable[[dict[str, Any]], None], shape: str = "current") -> None:
        self._send = send
        self._shape = shape
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-order-updates", daemon=True)
        self._thread.start()

    def __call__(self, kind: str, row: dict[str, Any]) -> None:
        self._queue.put(order_frame(kind, row, self._shape))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._send(item)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(2)
