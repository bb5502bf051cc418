"""Socket-level helpers of the feed: opening it with ``websocket-client`` (spec 11.1,
upstream-review D7), interrupting it from another thread, backoff, eventlet detection.

Certificates are always verified (``CERT_REQUIRED`` + hostname check); there is no
option to turn that off. Plain ``ws://`` is accepted only for loopback, which
``config.check_transport_url`` enforces before a URL gets here. Handshake failures
become this package's exceptions with messages that never contain the URL (it
carries the API key and token in its query string).
"""

from __future__ import annotations

import random
import socket
import ssl
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

import websocket

from ..errors import ApiKeyRejected, NetworkError, RequestTimeout, ServerUnavailable, SessionExpired
from ..redact import guard_third_party_loggers, redact
from .protocol import display_url

# websocket-client's own options: verified TLS, no Origin header (the feed is not a browser).
_SSLOPT = {"cert_reqs": ssl.CERT_REQUIRED, "check_hostname": True}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def open_socket(url: str, *, timeout: float, display: str | None = None) -> websocket.WebSocket:
    """Connect and upgrade, or raise.

    HTTP 401 on the upgrade raises :class:`SessionExpired`, 403 :class:`ApiKeyRejected`
    (both :class:`AuthError`: "Connection will be rejected" for a bad key or token,
    spec 11.1); anything else is transient (:class:`NetworkError`, ...).

    ``url`` holds secrets; ``display`` (default: the URL without its query) is what
    error messages name.
    """
    guard_third_party_loggers()
    where = display or display_url(url)
    options: dict = {}
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK:
        # A proxy from the environment must never see the sandbox's loopback traffic.
        options["http_no_proxy"] = list(_LOOPBACK)
    try:
        return websocket.create_connection(
            url,
            timeout=timeout,
            sslopt=dict(_SSLOPT),
            enable_multithread=True,
            suppress_origin=True,
            **options,
        )
    except websocket.WebSocketBadStatusException as exc:
        status = int(getattr(exc, "status_code", 0) or 0)
        if status == 401:
            raise SessionExpired(
                "the mStock feed rejected the access token (HTTP 401): log in again", http_status=status
            ) from None
        if status == 403:
            raise ApiKeyRejected(
                "the mStock feed rejected the credentials (HTTP 403): log in again or check BROKER_API_SECRET",
                http_status=status,
            ) from None
        if status >= 500:
            raise ServerUnavailable(f"the mStock feed at {where} answered HTTP {status}", http_status=status) from None
        raise NetworkError(f"the mStock feed at {where} refused the upgrade (HTTP {status})", http_status=status) from None
    except websocket.WebSocketTimeoutException:
        raise RequestTimeout(f"no answer from the mStock feed at {where} within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise NetworkError(f"TLS failure talking to the mStock feed at {where}: {redact(exc)}") from None
    except (websocket.WebSocketException, OSError) as exc:
        raise NetworkError(f"could not connect to the mStock feed at {where}: {type(exc).__name__}: {redact(exc)}") from None


def backoff_delay(attempt: int, initial: float, maximum: float, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with "equal jitter": in [ceiling/2, ceiling], ceiling capped at ``maximum``."""
    ceiling = min(maximum, initial * (2 ** min(max(attempt, 1) - 1, 30)))
    return ceiling / 2 + rng() * ceiling / 2


def green_threads() -> bool:
    """True when eventlet has monkey-patched threading (then threads must not be joined)."""
    eventlet = sys.modules.get("eventlet")
    patcher = getattr(eventlet, "patcher", None) if eventlet is not None else None
    return bool(patcher is not None and patcher.is_monkey_patched("thread"))


def interrupt(ws: websocket.WebSocket) -> None:
    """Say goodbye and wake a reader blocked in ``recv`` (from another thread)."""
    try:
        ws.send_close()
    except (websocket.WebSocketException, OSError):
        pass
    sock = ws.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def close_code(data: bytes) -> int:
    """The status code of a close frame's payload; 1005 ("no status") when it carries none."""
    return int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005


def close_detail(data: bytes) -> str:
    """`` (code 1008: reason)`` from a close frame's payload, for log lines."""
    if len(data) >= 2:
        text = data[2:].decode("utf-8", "replace")
        return f" (code {close_code(data)}{': ' + redact(text) if text else ''})"
    return ""
