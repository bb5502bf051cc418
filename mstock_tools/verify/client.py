"""Talk to OpenAlgo the way its users do: its web routes, its REST API v1, its WebSocket.

:class:`OpenAlgoWeb` keeps one cookie session (CSRF tokens come from
``GET /auth/csrf-token`` and are tied to that cookie, as the React app does) and the API
key. :class:`OpenAlgoFeed` is a client of OpenAlgo's WebSocket proxy. Both refuse any
address outside loopback and never use a proxy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from .stack import loopback_url


class CheckFailed(AssertionError):
    """A check's expectation did not hold; the message says what was expected and seen."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass
class Answer:
    """One HTTP answer: status code and parsed JSON body (``{}`` if it was not JSON)."""

    http_status: int
    body: dict[str, Any]
    text: str

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.body.get("status") == "success"

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body.get("error") or "")

    def success(self, what: str) -> dict[str, Any]:
        """The body of a success; :class:`CheckFailed` naming ``what`` otherwise."""
        expect(self.ok, f"{what}: expected success, got HTTP {self.http_status} {self._brief()}")
        return self.body

    def refusal(self, what: str) -> str:
        """The message of an error answer; :class:`CheckFailed` if it claims success."""
        expect(self.body.get("status") == "error",
               f"{what}: expected an error, got HTTP {self.http_status} {self._brief()}")
        expect(self.message.strip(), f"{what}: the error carries no message (HTTP {self.http_status})")
        return self.message

    def _brief(self) -> str:
        text = json.dumps(self.body) if self.body else self.text
        return text if len(text) <= 300 else text[:300] + "..."


class OpenAlgoWeb:
    """A browser-like session on OpenAlgo's web routes plus its REST API v1."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = loopback_url(base_url.rstrip("/"))
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxy, no netrc
        self.api_key: str | None = None

    def close(self) -> None:
        self.session.close()

    def _url(self, path: str) -> str:
        return loopback_url(self.base_url + path)

    @staticmethod
    def _answer(response: requests.Response) -> Answer:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {"data": body}
        return Answer(response.status_code, body, response.text[:2000])

    def csrf_token(self) -> str:
        response = self.session.get(self._url("/auth/csrf-token"), timeout=self.timeout)
        response.raise_for_status()
        return str(response.json()["csrf_token"])

    def get(self, path: str, **headers: str) -> Answer:
        response = self.session.get(self._url(path), headers=headers or None, timeout=self.timeout,
                                    allow_redirects=False)
        return self._answer(response)

    def post_form(self, path: str, fields: dict[str, str], *, multipart: bool = False) -> Answer:
        """A form post with a fresh CSRF token, as the React app sends it."""
        fields = {**fields, "csrf_token": self.csrf_token()}
        if multipart:
            response = self.session.post(self._url(path), files={k: (None, v) for k, v in fields.items()},
                                         timeout=self.timeout, allow_redirects=False)
        else:
            response = self.session.post(self._url(path), data=fields, timeout=self.timeout, allow_redirects=False)
        return self._answer(response)

    def api(self, endpoint: str, **body: Any) -> Answer:
        """``POST /api/v1/<endpoint>`` with the API key, as an API user calls it."""
        if self.api_key is None:
            raise CheckFailed("no OpenAlgo API key yet (the login checks did not pass)")
        response = self.session.post(self._url(f"/api/v1/{endpoint}"), json={"apikey": self.api_key, **body},
                                     timeout=self.timeout)
        return self._answer(response)

    def cookies(self) -> list[dict[str, str]]:
        return [{"name": c.name, "value": c.value or "", "path": c.path or "/"} for c in self.session.cookies]


class OpenAlgoFeed:
    """A client of OpenAlgo's WebSocket proxy (``authenticate``, ``subscribe``, ticks)."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 10.0) -> None:
        import websocket

        self._ws = websocket.create_connection(loopback_url(url), timeout=timeout, http_no_proxy=["127.0.0.1", "localhost"])
        self.timeout = timeout
        self.send({"action": "authenticate", "api_key": api_key})
        reply = self.wait_for(lambda m: m.get("type") in ("auth", "error"), "the authentication reply")
        expect(reply.get("type") == "auth" and reply.get("status") == "success",
               f"OpenAlgo's WebSocket refused the API key: {reply.get('message') or reply}")

    def send(self, message: dict[str, Any]) -> None:
        self._ws.send(json.dumps(message))

    def receive(self, timeout: float) -> dict[str, Any] | None:
        import websocket

        self._ws.settimeout(max(timeout, 0.01))
        try:
            text = self._ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        try:
            message = json.loads(text)
        except (TypeError, ValueError):
            return None
        return message if isinstance(message, dict) else None

    def wait_for(self, match: Callable[[dict[str, Any]], bool], what: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and match(message):
                return message
        raise CheckFailed(f"no {what} on OpenAlgo's WebSocket within {timeout or self.timeout:.0f} s")

    def subscribe(self, symbols: list[tuple[str, str]], mode: str) -> dict[str, Any]:
        self.send({"action": "subscribe", "mode": mode,
                   "symbols": [{"symbol": s, "exchange": e} for s, e in symbols]})
        reply = self.wait_for(lambda m: m.get("type") in ("subscribe", "error"), f"reply to the {mode} subscription")
        expect(reply.get("status") == "success", f"{mode} subscription refused: {reply.get('message') or reply}")
        failed = [s for s in reply.get("subscriptions", []) if s.get("status") != "success"]
        expect(not failed, f"{mode} subscription refused for {failed}")
        return reply

    def subscribe_orders(self) -> dict[str, Any]:
        """Order-status events of this account (``{"type": "order_update", ...}`` messages)."""
        self.send({"action": "subscribe_orders"})
        reply = self.wait_for(lambda m: m.get("type") in ("subscribe_orders", "error"), "reply to subscribe_orders")
        expect(reply.get("status") == "success", f"subscribe_orders refused: {reply.get('message') or reply}")
        return reply

    def unsubscribe(self, symbols: list[tuple[str, str]], mode: str) -> None:
        self.send({"action": "unsubscribe", "mode": mode,
                   "symbols": [{"symbol": s, "exchange": e} for s, e in symbols]})

    def close(self) -> None:
        import websocket

        try:
            self._ws.close()
        except (OSError, websocket.WebSocketException):  # the server may have dropped it already
            pass
