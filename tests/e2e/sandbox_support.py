"""Helpers of the sandbox's own end-to-end tests: a sandbox per configuration, a feed
listener that collects text and binary frames, and an order body.

A test that changes a :class:`~mstock_sandbox.SandboxConfig` knob starts its own small
sandbox (the anchor instruments only, about 900 rows, well under a second) with
:func:`running_sandbox`; tests of the default behaviour use the shared ``sandbox``
fixture.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import websocket

from broker.mstock.streaming.connection import close_code
from mstock_sandbox import SandboxConfig, SandboxServer
from mstock_sandbox.master import generate_master

from ..helpers import wait_until

_ANCHORS = generate_master(0)


@contextmanager
def running_sandbox(**knobs: Any) -> Iterator[SandboxServer]:
    """A sandbox on free loopback ports with ``knobs`` set, rate limits off unless asked,
    and no periodic feed publishing (tests call ``server.feed.publish_now()``)."""
    knobs.setdefault("enforce_rate_limits", False)
    config = SandboxConfig(port=0, master_rows=_ANCHORS, **knobs)
    server = SandboxServer(config, feed_options={"publish_interval": None}).start()
    try:
        yield server
    finally:
        server.stop()


def order_body(**overrides: str) -> dict[str, str]:
    body = {
        "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
        "transactiontype": "BUY", "ordertype": "MARKET", "quantity": "10", "producttype": "INTRADAY",
        "duration": "DAY", "price": "0", "triggerprice": "0", "squareoff": "0", "stoploss": "0",
        "trailingStopLoss": "", "disclosedquantity": "0", "ordertag": "",
    }
    body.update(overrides)
    return body


class FeedListener:
    """One logged-in feed socket that collects every frame on a thread of its own."""

    def __init__(self, server: SandboxServer, token: str, *, login: bool = True) -> None:
        self.server = server
        before = server.feed.logins
        self.ws = websocket.create_connection(
            f"{server.ws_url}?API_KEY={server.account.api_key}&ACCESS_TOKEN={token}", timeout=5
        )
        self.lock = threading.Lock()
        self.texts: list[dict[str, Any]] = []
        self.binaries: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if login:
            self.ws.send(f"LOGIN:{token}")
            assert wait_until(lambda: server.feed.logins > before), "the feed never registered the login"

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except (websocket.WebSocketException, OSError):
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:  # the close reply is already sent
                code = close_code(data)
                with self.lock:
                    self.closed = (code, data[2:].decode("utf-8", "replace"))
                self.ws.shutdown()  # and the connection closed, as real clients do
                return
            with self.lock:
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.texts.append(json.loads(data))
                elif opcode == websocket.ABNF.OPCODE_BINARY:
                    self.binaries.append(data)

    def wait_texts(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        assert wait_until(lambda: len(self.texts) >= count, timeout), f"expected {count} text frames, got {self.texts}"
        with self.lock:
            return list(self.texts)

    def wait_binaries(self, count: int, timeout: float = 5.0) -> list[bytes]:
        assert wait_until(lambda: len(self.binaries) >= count, timeout), f"expected {count} binary frames"
        with self.lock:
            return list(self.binaries)

    def subscribe(self, mode: int, exchange_type: int, tokens: list[str]) -> None:
        self.ws.send(json.dumps({"action": 1, "params": {"mode": mode, "tokenList": [
            {"exchangeType": exchange_type, "tokens": tokens}]}}))

    def close(self) -> None:
        """Start the closing handshake; the reader thread takes the server's reply and ends."""
        try:
            self.ws.send_close()
        except (websocket.WebSocketException, OSError):
            pass
        self._thread.join(2)
        if self.ws.sock is not None:
            self.ws.shutdown()


def raw_call(server: SandboxServer, token: str, method: str, path: str, body: Any = None) -> Any:
    """One request as mStock's docs write it (no client library): the ``requests`` response."""
    import requests

    headers = {"X-Mirae-Version": "1", "X-PrivateKey": server.account.api_key, "Authorization": f"Bearer {token}"}
    return requests.request(method, f"{server.base_url}/openapi/typeb{path}", json=body, headers=headers, timeout=5)
