"""What ``mstock-openalgo doctor`` needs from the wire beyond ``MStockClient.call``'s data.

* :func:`observing_client`: an ordinary :class:`MStockClient` (same route table, envelope
  parser, rate limiter, verified TLS, no redirects) whose ``requests`` session reports
  every exchange to a callback: route, HTTP status, the server's ``Date`` header, elapsed
  time and the raw body. The doctor reads the clock skew, mStock's own refusal texts and
  raw response samples from it; requests are still sent only by ``MStockClient.call``.
* :func:`check_endpoint`: can this machine open a connection to a host, and is its TLS
  certificate valid for that name? One time-boxed handshake with certificate and
  hostname verification always on (there is no switch), nothing sent after it.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from ..config import API_PREFIX
from .client import MStockClient, Timeouts
from .ratelimit import RateLimiter
from .routes import ROUTES


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer, as the doctor records them."""

    route: str  # the route table's name, or the path when no route matches
    method: str
    http_status: int
    server_date: datetime | None  # the response's Date header (whole seconds, UTC)
    sent_at: float  # time.time() when the request left (from the caller's wall clock)
    received_at: float  # time.time() when the answer was complete
    body: bytes = field(repr=False, default=b"")
    content_type: str = ""


def route_for(method: str, path: str) -> str:
    """The route-table name of ``method path`` (``/openapi/typeb/orders`` -> ``orders.list``)."""
    if API_PREFIX in path:
        path = path.split(API_PREFIX, 1)[1]
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    for name, r in ROUTES.items():
        pattern = [p for p in r.path.split("/") if p]
        if r.method != method.upper() or len(pattern) != len(parts):
            continue
        if all(want.startswith("{") or want.lower() == got.lower() for want, got in zip(pattern, parts)):
            return name
    return path


def _date_header(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def observing_client(
    access_token: str | None,
    *,
    api_key: str | None,
    base_url: str,
    on_exchange: Callable[[Exchange], None],
    wall: Callable[[], float] = time.time,
    timeouts: Timeouts | None = None,
    max_attempts: int = 2,
    limiter: RateLimiter | None = None,
) -> MStockClient:
    """A client whose every answered request is reported to ``on_exchange``.

    Bodies of streamed responses (the instrument master) are not read by the hook.
    ``wall`` stamps the exchange (tests inject a fake clock for skew checks).
    """
    session = MStockClient._new_session(base_url)  # proxies resolved for the host probed

    def hook(response: requests.Response, *args: object, **kwargs: object) -> requests.Response:
        received = wall()
        elapsed = response.elapsed.total_seconds() if response.elapsed is not None else 0.0
        request = response.request
        method = (request.method or "GET") if request is not None else "GET"
        body = b"" if kwargs.get("stream") else response.content
        on_exchange(
            Exchange(
                route=route_for(method, urlsplit(response.url or "").path),
                method=method,
                http_status=response.status_code,
                server_date=_date_header(response.headers.get("Date")),
                sent_at=received - elapsed,
                received_at=received,
                body=body,
                content_type=response.headers.get("Content-Type", ""),
            )
        )
        return response

    session.hooks["response"].append(hook)
    return MStockClient(
        access_token,
        api_key=api_key,
        base_url=base_url,
        session=session,
        limiter=limiter,
        timeouts=timeouts,
        max_attempts=max_attempts,
        keyless_probe=True,  # the doctor asks the order book without a session on purpose
    )


# ---------------------------------------------------------------------- reachability


@dataclass(frozen=True)
class EndpointCheck:
    """The outcome of :func:`check_endpoint`; ``problem`` is None when all went well."""

    host: str
    port: int
    tls: bool
    seconds: float
    problem: str | None = None
    certificate_expires: datetime | None = None
    certificate_subject: str | None = None


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    # create_default_context already requires a valid chain and the right host name;
    # stated here so that nobody mistakes it for a default that could be switched off.
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def check_endpoint(url: str, *, timeout: float = 3.0) -> EndpointCheck:
    """Open (and close) one connection to the host of ``url``: TCP, then TLS for https/wss."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    started = time.monotonic()

    def done(problem: str | None = None, **extra: object) -> EndpointCheck:
        return EndpointCheck(host, port, secure, time.monotonic() - started, problem, **extra)  # type: ignore[arg-type]

    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        return done(f"cannot resolve {host} ({exc.strerror or exc})")
    except TimeoutError:
        return done(f"no answer from {host}:{port} within {timeout:g} s")
    except OSError as exc:
        return done(f"cannot connect to {host}:{port} ({exc.strerror or exc})")
    try:
        if not secure:
            return done()
        raw.settimeout(max(0.1, timeout - (time.monotonic() - started)))
        try:
            with _tls_context().wrap_socket(raw, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
        except ssl.SSLCertVerificationError as exc:
            return done(f"TLS certificate of {host} is not valid: {exc.verify_message or exc.reason}")
        except ssl.SSLError as exc:
            return done(f"TLS handshake with {host} failed: {exc.reason or exc}")
        except TimeoutError:
            return done(f"TLS handshake with {host} timed out after {timeout:g} s")
        except OSError as exc:
            return done(f"connection to {host}:{port} failed during TLS ({exc.strerror or exc})")
        expires = None
        if cert.get("notAfter"):
            expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), timezone.utc)
        subject = ", ".join(f"{k}={v}" for item in cert.get("subject", ()) for k, v in item)
        return done(certificate_expires=expires, certificate_subject=subject or None)
    finally:
        try:
            raw.close()
        except OSError:
            pass
