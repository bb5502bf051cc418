"""Shared test helpers: fixture files keyed by route name, URL building, and waiting for a condition.

Fixture files live in ``tests/fixtures/<route>__<case>.json`` where ``<route>`` is a key
of ``broker.mstock.transport.routes.ROUTES`` (e.g. ``orders.place__rms_reject.json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import responses

from broker.mstock.transport.routes import ROUTES

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "https://api.mstock.trade"
API_ROOT = BASE_URL + "/openapi/typeb"

CLIENT_CODE = "MA6800001"
API_KEY = "test-api-key-Zk3xYzkB/MAK@@"
PASSWORD = "s3cret-Pass!"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJVU0VSTkFNRSI6Ik1BNjgwMDAwMSJ9.c2lnbmF0dXJlLXRyYWRpbmc"
FEED_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJGRUVEIjoiMSJ9.c2lnbmF0dXJlLWZlZWQ"
REQUEST_TOKEN = "697c39bf-9411-46b0-81c2-67448ee99c72"
# A fixed moment 15 s into a 30-second TOTP window: tests that compare codes freeze the
# TOTP clock here, so a window boundary passing during a test cannot change a code.
TOTP_MOMENT = 1_788_000_015.0


def freeze_totp_clock(monkeypatch, at: float = TOTP_MOMENT) -> float:
    """Make ``pyotp.TOTP.now()`` and ``verify()`` (without ``for_time``) see ``at``."""
    import pyotp

    verify = pyotp.TOTP.verify
    monkeypatch.setattr(pyotp.TOTP, "now", lambda self: self.at(at))
    monkeypatch.setattr(
        pyotp.TOTP,
        "verify",
        lambda self, otp, for_time=None, valid_window=0: verify(
            self, otp, for_time=at if for_time is None else for_time, valid_window=valid_window
        ),
    )
    return at


def load_fixture(route: str, case: str) -> Any:
    """The JSON body recorded for ``route`` in ``case``."""
    path = FIXTURES / f"{route}__{case}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def url_for(route: str, **path: Any) -> str:
    return API_ROOT + ROUTES[route].path.format(**{k: str(v) for k, v in path.items()})


def add_route(
    mock: responses.RequestsMock,
    route: str,
    body: Any = None,
    *,
    case: str | None = None,
    status: int = 200,
    method: str | None = None,
    match: list | None = None,
    **path: Any,
) -> None:
    """Register a response for ``route``: a fixture ``case``, a JSON ``body``, or raw text/bytes/exception."""
    if case is not None:
        body = load_fixture(route, case)
    kwargs: dict[str, Any] = {"status": status}
    if isinstance(body, BaseException):
        kwargs = {"body": body}
    elif isinstance(body, (str, bytes)):
        kwargs["body"] = body
    else:
        kwargs["json"] = body
    mock.add(method or ROUTES[route].method, url_for(route, **path), match=match or [], **kwargs)


def sent_json(call: Any) -> Any:
    """The JSON body of a recorded ``responses`` call."""
    return json.loads(call.request.body) if call.request.body else None


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true (synchronisation, not a timing assertion: the timeout
    only ends a wait that has already failed, so it is generous for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())
