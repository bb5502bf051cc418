"""The adapter's base class: OpenAlgo's when hosted, a small stand-in otherwise (contract 1.4, 11.2).

Which one is decided by the host seam (:func:`broker.mstock.host.openalgo_adapter_base`):
OpenAlgo's ``BaseBrokerWebSocketAdapter`` when this module is imported inside OpenAlgo's
WebSocket proxy, :class:`StandaloneAdapterBase` anywhere else (CLI, tests, scripts).
Nothing here reads the environment, opens a socket or touches a database.

Limitation: a process that imports this adapter *before* ``websocket_proxy`` gets the
stand-in base. OpenAlgo's own start-up order never does that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import host

# The auth-failure wording OpenAlgo's proxy looks for (base_adapter.is_auth_error).
_AUTH_MARKERS = (
    "401",
    "403",
    "unauthorized",
    "forbidden",
    "authentication failed",
    "invalid token",
    "token expired",
    "access denied",
    "invalid credentials",
    "session expired",
)


class StandaloneAdapterBase:
    """What the adapter needs from OpenAlgo's base class, for use outside OpenAlgo.

    ``publish_market_data(topic, data)`` hands each message to
    ``market_data_callback`` (set it, or override the method in a subclass).
    """

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {}
        self.connected = False
        self.market_data_callback: Callable[[str, dict[str, Any]], None] | None = None

    def publish_market_data(self, topic: str, data: dict[str, Any]) -> None:
        callback = self.market_data_callback
        if callback is not None:
            callback(topic, data)

    def _create_success_response(self, message: str, **kwargs: Any) -> dict[str, Any]:
        return {"status": "success", "message": message, **kwargs}

    def _create_error_response(self, code: str, message: str) -> dict[str, Any]:
        return {"status": "error", "code": code, "message": message}

    def is_auth_error(self, error_message: str) -> bool:
        text = str(error_message or "").lower()
        return any(marker in text for marker in _AUTH_MARKERS)

    def clear_auth_cache_for_user(self, user_id: str) -> None:
        """Nothing is cached outside OpenAlgo: the token provider reads the session each time."""

    def cleanup_zmq(self) -> None:
        """No ZeroMQ outside OpenAlgo."""


def choose_base() -> type:
    """OpenAlgo's ``BaseBrokerWebSocketAdapter`` inside the proxy, else :class:`StandaloneAdapterBase`."""
    return host.openalgo_adapter_base() or StandaloneAdapterBase


def hosted_base(cls: type) -> bool:
    """True when ``cls`` derives from OpenAlgo's base class."""
    return not issubclass(cls, StandaloneAdapterBase)
