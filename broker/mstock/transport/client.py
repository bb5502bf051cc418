"""``MStockClient``: the only code in the package that talks HTTP to mStock.

One ``requests.Session`` per client, the route table of :mod:`.routes`, and one
:meth:`MStockClient.call` that sends a request, respects the shared rate limiter, retries
idempotent reads on transient failures, and turns every envelope variant of spec 1.4 into
either the ``data`` part or a typed exception from :mod:`.errors`.

Clients are cheap to look up with :func:`get_client` (a small registry keyed by access
token, API key and base URL, guarded by a lock) so OpenAlgo's per-request facade calls and
its 10-thread basket orders share one connection pool.
"""

from __future__ import annotations

import json as jsonlib
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from .. import config, host
from ..errors import (
    AuthError,
    BadResponse,
    ConfigError,
    MStockError,
    MStockRejected,
    MStockTransient,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    RequestTimeout,
    ServerUnavailable,
    SessionExpired,
)
from ..host import get_logger
from ..redact import guard_third_party_loggers, mask_id, register_secret
from .error_codes import error_class_for
from .keepwarm import KeepWarm
from .keepwarm import enabled as keep_warm_enabled
from .ratelimit import RateLimiter, default_limiter
from .routes import Auth, Route, Timeout
from .routes import route as lookup_route

log = get_logger(__name__)

_SUCCESS = frozenset({"true", "success", "ok"})
_FAILURE = frozenset({"false", "error", "failed", "failure"})

NOT_LOGGED_IN = (
    "not logged in to mStock (no access token): log in first, through OpenAlgo's broker login "
    "or with `mstock-openalgo login`"
)
# The keep-warm request: a small idempotent read, not counted against any order limit.
KEEP_WARM_ROUTE = "user.funds"


@dataclass(frozen=True)
class Timeouts:
    """Seconds. A short connect timeout; reads of a few seconds for trading calls."""

    connect: float = 3.05
    trading: float = 7.0
    data: float = 15.0
    master: float = 120.0

    def for_route(self, r: Route) -> tuple[float, float]:
        read = {Timeout.TRADING: self.trading, Timeout.DATA: self.data, Timeout.MASTER: self.master}
        return (self.connect, read[r.timeout])


@dataclass(frozen=True)
class Reply:
    """A successful mStock answer: the unwrapped ``data`` plus the broker's message."""

    data: Any
    message: str
    http_status: int


class _MStockAuth(requests.auth.AuthBase):
    """Adds the Type B credential headers (spec 1.2) to one request.

    Passing an ``auth`` object also stops requests from consulting ``~/.netrc``, which
    would otherwise replace our Authorization header.
    """

    def __init__(self, api_key: str | None, access_token: str | None, level: Auth) -> None:
        self._api_key = api_key
        self._token = access_token
        self._level = level

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._level in (Auth.KEY, Auth.BEARER):
            request.headers["X-PrivateKey"] = self._api_key or ""
        if self._level is Auth.BEARER:
            request.headers["Authorization"] = f"Bearer {self._token or ''}"
        return request

    def __repr__(self) -> str:
        return f"<_MStockAuth level={self._level.value}>"


class MStockClient:
    """A client for one mStock session (one access token).

    ``access_token`` may be ``None`` for the login routes. ``api_key`` and ``base_url``
    default to the current configuration (``BROKER_API_SECRET``, ``MSTOCK_BASE_URL``).
    """

    def __init__(
        self,
        access_token: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        timeouts: Timeouts | None = None,
        max_attempts: int = 3,
        backoff: float = 0.5,
        backoff_cap: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
        keep_warm: bool = False,
        session_live: Callable[[], bool] | None = None,
        keyless_probe: bool = False,
    ) -> None:
        settings = config.settings() if api_key is None or base_url is None else None
        self.api_key = api_key if api_key is not None else settings.api_key
        base = base_url if base_url is not None else settings.base_url
        config.check_transport_url(base, schemes=("https", "http"))
        self.api_root = base.rstrip("/") + config.API_PREFIX
        self.access_token = access_token
        register_secret(self.api_key, access_token)
        guard_third_party_loggers()
        self._session = session or self._new_session(self.api_root)
        self._limiter = limiter
        self.timeouts = timeouts or Timeouts()
        self.max_attempts = max(1, max_attempts)
        self._backoff = backoff
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        # Only the doctor's deliberate probe ("is this API key accepted without a session?")
        # may send an authenticated route without a token, and only a read.
        self._keyless_probe = keyless_probe
        # Keeps this client's own pool warm once an authenticated request has succeeded.
        self._keepwarm = (
            KeepWarm(self._keep_warm_ping, still_live=session_live) if keep_warm and access_token else None
        )

    @staticmethod
    def _new_session(api_root: str) -> requests.Session:
        """A session for the host of ``api_root`` (any URL on it), its proxy settings resolved now."""
        session = requests.Session()
        # With trust_env on, requests re-reads the proxy and CA-bundle variables on every
        # call, walking the whole environment (about a tenth of a loopback order). They are
        # read once, here, for the one host this client talks to, by requests' own rules:
        # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, unless NO_PROXY names the host. A change to
        # them takes effect with the next session (a new token or a restart).
        session.trust_env = False
        session.proxies.update(requests.utils.get_environ_proxies(api_root))
        # TLS verification is always on; there is deliberately no switch to turn it off. A
        # CA bundle named in the environment (a company's TLS-inspecting proxy) still verifies.
        session.verify = _ca_bundle() or True
        # mStock is a token API; storing cookies would only leak state between threads.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # No transport-level retries: urllib3 must never resend a write on its own.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"User-Agent": "mstock-openalgo/0.1", "Accept": "application/json"})
        return session

    def __repr__(self) -> str:
        state = "with token" if self.access_token else "no token"
        return f"<MStockClient {self.api_root} {state}>"

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter or default_limiter()

    @property
    def keep_warm(self) -> KeepWarm | None:
        return self._keepwarm

    def stop_keep_warm(self) -> None:
        if self._keepwarm is not None:
            self._keepwarm.stop()

    def close(self) -> None:
        self.stop_keep_warm()
        self._session.close()

    def _keep_warm_ping(self) -> None:
        self._send_once(KEEP_WARM_ROUTE, lookup_route(KEEP_WARM_ROUTE), None, None)

    # ------------------------------------------------------------------ requests

    def call(
        self,
        route_name: str,
        *,
        path: dict[str, Any] | None = None,
        json: Any = None,
        full: bool = False,
    ) -> Any:
        """Send one request and return its ``data`` (or a :class:`Reply` when ``full``).

        Idempotent routes are retried on :class:`MStockTransient` with capped exponential
        backoff and jitter. Routes that create or change orders are sent exactly once; if
        their fate is unknown they raise :class:`OutcomeUnknown`.
        """
        r = lookup_route(route_name)
        attempts = self.max_attempts if r.idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                reply = self._send_once(route_name, r, path, json)
                return reply if full else reply.data
            except MStockTransient as exc:
                if attempt >= attempts:
                    raise
                delay = self._retry_delay(exc, attempt)
                log.info("mStock %s failed (%s); retry %d/%d in %.2fs", route_name, exc, attempt, attempts - 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # the loop either returns or raises

    def fetch_bytes(
        self,
        route_name: str,
        *,
        progress: Callable[[int, int | None], None] | None = None,
        chunk_size: int = 1 << 20,
    ) -> bytes:
        """Stream a large body (the instrument master) and return it undecoded.

        A bare JSON array (or CSV text) is returned as bytes for the caller to parse; an
        error envelope raises like :meth:`call`. Transient failures are retried.
        """
        r = lookup_route(route_name)
        attempts = self.max_attempts if r.idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._stream_once(route_name, r, progress, chunk_size)
            except MStockTransient as exc:
                if attempt >= attempts:
                    raise
                self._sleep(self._retry_delay(exc, attempt))
        raise AssertionError("unreachable")

    def _retry_delay(self, exc: MStockTransient, attempt: int) -> float:
        if isinstance(exc, RateLimited) and exc.retry_after:
            return min(exc.retry_after, 60.0)
        base = min(self._backoff_cap, self._backoff * (2 ** (attempt - 1)))
        return base * (0.5 + random.random() / 2)

    def _prepare(self, r: Route, path: dict[str, Any] | None, body: Any) -> tuple[str, dict, bytes | None]:
        if r.auth is not Auth.NONE and not self.api_key:
            raise ConfigError(
                "missing configuration: set BROKER_API_SECRET (your mStock Type B API key) in .env"
            )
        if r.auth is Auth.BEARER and not str(self.access_token or "").strip() and not (
            self._keyless_probe and r.idempotent
        ):
            # An empty "Bearer" header is a request from nobody: refuse it here, unsent.
            raise SessionExpired(NOT_LOGGED_IN)
        url_path = r.path.format(**{k: quote(str(v).strip(), safe="") for k, v in (path or {}).items()})
        headers = {"X-Mirae-Version": "1"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = jsonlib.dumps(body, separators=(",", ":")).encode()
        return self.api_root + url_path, headers, data

    def _open(self, name: str, r: Route, path: dict | None, body: Any, *, stream: bool = False) -> requests.Response:
        """Send one request (after the rate limiter) and return the raw response."""
        url, headers, data = self._prepare(r, path, body)
        slot = self.limiter.reserve(r.category)
        try:
            response = self._session.request(
                r.method,
                url,
                data=data,
                headers=headers,
                auth=_MStockAuth(self.api_key, self.access_token, r.auth),
                timeout=self.timeouts.for_route(r),
                # Never follow redirects: X-PrivateKey is a custom header that requests
                # would forward to whatever host a redirect names.
                allow_redirects=False,
                stream=stream,
            )
        except requests.RequestException as exc:
            raise self._transport_error(name, r, exc) from None
        slot.answered()  # mStock has seen the request by now: the limiter may count it as arrived
        if self._keepwarm is not None:
            self._keepwarm.note_activity(response.headers.get("Keep-Alive"))
        return response

    def _send_once(self, name: str, r: Route, path: dict | None, body: Any) -> Reply:
        started = time.perf_counter()
        response = self._open(name, r, path, body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("mStock %s %s -> HTTP %s in %.0f ms", r.method, name, response.status_code, elapsed_ms)
        try:
            reply = parse_envelope(
                response.status_code,
                response.headers.get("Content-Type", ""),
                response.content,
                route_name=name,
                bare_array=r.bare_array,
            )
        except AuthError:
            self.stop_keep_warm()  # the session is dead: nothing to keep warm
            raise
        except MStockTransient as exc:
            if r.is_write and not isinstance(exc, RateLimited):
                # A gateway page or an unreadable 2xx after a write: the broker may have
                # acted on it. Only the order book can tell.
                raise OutcomeUnknown(
                    f"{name}: {exc.message}; the request may have been executed",
                    http_status=exc.http_status,
                    code=exc.code,
                    route=name,
                ) from exc
            raise
        if self._keepwarm is not None and r.auth is Auth.BEARER:
            self._keepwarm.start()  # the session works: keep its connection open from now on
        return reply

    def _stream_once(
        self, name: str, r: Route, progress: Callable[[int, int | None], None] | None, chunk_size: int
    ) -> bytes:
        with self._open(name, r, None, None, stream=True) as response:
            total = response.headers.get("Content-Length")
            total_bytes = int(total) if total and total.isdigit() else None
            chunks: list[bytes] = []
            received = 0
            try:
                for chunk in response.iter_content(chunk_size=chunk_size):
                    chunks.append(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(received, total_bytes)
            except requests.RequestException as exc:
                raise self._transport_error(name, r, exc) from None
            body = b"".join(chunks)
            status = response.status_code
            content_type = response.headers.get("Content-Type", "")
        head = body.lstrip()[:1]
        if 200 <= status < 300 and head not in (b"{", b"<", b""):
            return body  # a bare array, or CSV text (spec 8.4 [CONFLICT])
        # An envelope or an error page: let the common parser raise the right error.
        reply = parse_envelope(status, content_type, body, route_name=name, bare_array=True)
        return jsonlib.dumps(reply.data).encode()

    def _transport_error(self, name: str, r: Route, exc: requests.RequestException) -> MStockError:
        if _never_sent(exc):
            return NetworkError(f"{name}: could not connect to mStock ({type(exc).__name__})", route=name)
        if r.is_write:
            return OutcomeUnknown(
                f"{name}: the connection failed after the request was sent "
                f"({type(exc).__name__}); it may have been executed",
                route=name,
            )
        if isinstance(exc, requests.Timeout):
            return RequestTimeout(f"{name}: mStock did not answer in time", route=name)
        return NetworkError(f"{name}: connection to mStock failed ({type(exc).__name__})", route=name)


def _ca_bundle() -> str | None:
    """The CA bundle the environment names (requests' variables), checked to exist.

    requests would raise a bare ``OSError`` on every call for a missing path; here it is a
    configuration error, before anything is sent.
    """
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        value = os.environ.get(variable)
        if value:
            if not os.path.exists(value):
                raise ConfigError(
                    f"{variable}={value} names no file or folder: point it at a CA bundle (PEM) or unset it"
                )
            return value
    return None


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (connect phase failed)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


# ---------------------------------------------------------------------- envelopes


def _status_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _SUCCESS:
            return True
        if lowered in _FAILURE:
            return False
    return None


def _clean_data(value: Any) -> Any:
    # SDK-B-repo mocks show Python-repr artefacts ("None") for null data (spec 1.4 item 1).
    if isinstance(value, str) and value.strip() in ("None", "null", ""):
        return None
    return value


def _html_title(text: str) -> str:
    lower = text.lower()
    start = lower.find("<title>")
    end = lower.find("</title>")
    if start != -1 and end > start:
        return " ".join(text[start + 7 : end].split())[:120]
    return ""


def parse_envelope(
    http_status: int,
    content_type: str,
    body: bytes,
    *,
    route_name: str = "",
    bare_array: bool = False,
) -> Reply:
    """Turn one mStock HTTP answer into a :class:`Reply` or raise the matching error.

    Handles every variant of spec 1.4: boolean or string ``status`` (``true``, ``"true"``,
    ``"True"``, ``"success"`` / ``false``, ``"false"``, ``"error"``), list-wrapped
    envelopes, bare arrays, ASP.NET ProblemDetails, HTML error pages and empty bodies.
    """
    text = body.decode("utf-8", errors="replace").strip() if body else ""
    where = f"{route_name}: " if route_name else ""

    if 300 <= http_status < 400:
        # Redirects are never followed (they would carry X-PrivateKey to another host).
        raise MStockRejected(
            f"{where}unexpected redirect (HTTP {http_status}); not followed", http_status=http_status, route=route_name
        )

    if not text:
        if http_status >= 400:
            cls = error_class_for(None, http_status)
            raise cls(f"{where}HTTP {http_status} with an empty body", http_status=http_status, route=route_name)
        raise BadResponse(f"{where}empty response (HTTP {http_status})", http_status=http_status, route=route_name)

    if text[0] == "<" or "html" in content_type.lower():
        title = _html_title(text)
        detail = f" ({title})" if title else ""
        if http_status >= 400 and http_status < 500 and http_status not in (408, 429):
            cls = error_class_for(None, http_status)
            raise cls(f"{where}HTTP {http_status}{detail}", http_status=http_status, route=route_name)
        raise ServerUnavailable(
            f"{where}mStock returned an HTML page instead of JSON (HTTP {http_status}){detail}",
            http_status=http_status,
            route=route_name,
        )

    try:
        payload = jsonlib.loads(text)
    except ValueError:
        if http_status >= 400:
            cls = error_class_for(None, http_status)
            raise cls(f"{where}HTTP {http_status}: {text[:200]}", http_status=http_status, route=route_name) from None
        raise BadResponse(f"{where}response is not JSON (HTTP {http_status})", http_status=http_status, route=route_name) from None

    if isinstance(payload, list):
        if payload and isinstance(payload[0], dict) and "status" in payload[0] and (
            "message" in payload[0] or "data" in payload[0] or "errorcode" in payload[0]
        ):
            payload = payload[0]  # a list-wrapped envelope (place order, spec 4.3)
        elif http_status < 400:
            return Reply(payload, "", http_status)  # a bare array (scrip master, spec 8.4)
        else:
            raise error_class_for(None, http_status)(
                f"{where}HTTP {http_status}", http_status=http_status, route=route_name
            )

    if not isinstance(payload, dict):
        if http_status < 400 and bare_array:
            return Reply(payload, "", http_status)
        raise BadResponse(f"{where}unexpected JSON shape ({type(payload).__name__})", http_status=http_status, route=route_name)

    # ASP.NET Core ProblemDetails (spec 1.4 item 6): {"title", "status": 400, "errors": {...}}
    if "title" in payload and isinstance(payload.get("status"), int) and (
        "errors" in payload or "traceId" in payload or "type" in payload
    ):
        problems = payload.get("errors") or {}
        details = "; ".join(
            f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in problems.items()
        ) if isinstance(problems, dict) else str(problems)
        message = payload.get("title") or "validation failed"
        if details:
            message = f"{message} {details}"
        status = payload.get("status") or http_status
        raise error_class_for(None, status)(message, http_status=http_status, route=route_name)

    flag = _status_flag(payload.get("status"))
    message = str(payload.get("message") or "").strip()
    code = payload.get("errorcode") or payload.get("error_type") or None
    code = str(code).strip() if code not in (None, "") else None

    if flag is True and http_status < 400:
        return Reply(_clean_data(payload.get("data")), message, http_status)

    if flag is None and http_status < 400:
        if "data" in payload and not code:
            return Reply(_clean_data(payload.get("data")), message, http_status)
        raise BadResponse(f"{where}response without a recognisable status", http_status=http_status, route=route_name)

    # The broker's own words are the message; the route travels in ``exc.route``.
    cls = error_class_for(code, http_status)
    if cls is RateLimited:
        raise RateLimited(message or "rate limit exceeded", http_status=http_status, code=code, route=route_name)
    raise cls(message or f"{where}HTTP {http_status}", http_status=http_status, code=code, route=route_name)


# ---------------------------------------------------------------------- registry

_MAX_CLIENTS = 8
_registry: OrderedDict[tuple[str | None, str | None, str], MStockClient] = OrderedDict()
_registry_lock = threading.Lock()


def get_client(access_token: str | None = None) -> MStockClient:
    """Return the shared client for ``access_token`` under the current configuration.

    Clients are kept in a small LRU registry so repeated facade calls (and the threads of
    a basket order) reuse one connection pool; a changed token or API key gets a new one.
    """
    settings = config.settings()
    key = (access_token, settings.api_key, settings.base_url)
    with _registry_lock:
        client = _registry.get(key)
        if client is not None:
            _registry.move_to_end(key)
            return client
        client = MStockClient(
            access_token,
            api_key=settings.api_key,
            base_url=settings.base_url,
            keep_warm=keep_warm_enabled(),
            session_live=_host_holds(access_token),
        )
        _registry[key] = client
        while len(_registry) > _MAX_CLIENTS:
            # Not closed here: another thread may be mid-request on it. Its pooled
            # connections are released when the last user drops the client.
            _, dropped = _registry.popitem(last=False)
            dropped.stop_keep_warm()
        log.debug("new mStock client for %s", mask_id(settings.client_code))
        return client


def _host_holds(access_token: str | None) -> Callable[[], bool]:
    """Whether the host still holds ``access_token`` as its session (not logged out meanwhile)."""
    return lambda: host.holds_session(access_token)


def reset_clients() -> None:
    """Close and forget every shared client (tests, logout)."""
    with _registry_lock:
        for client in _registry.values():
            client.close()
        _registry.clear()
