"""The adapters' base classes: OpenAlgo's when hosted, small stand-ins otherwise (contract 1.4, 11.2, 12).

Which one is decided by the host seam: for market data
(:func:`broker.mstock.host.openalgo_adapter_base`) OpenAlgo's ``BaseBrokerWebSocketAdapter``
when this module is imported inside OpenAlgo's WebSocket proxy, :class:`StandaloneAdapterBase`
anywhere else (CLI, tests, scripts); for order updates
(:func:`broker.mstock.host.openalgo_order_adapter_base`) OpenAlgo's ``BaseOrderUpdateAdapter``
when the adapter is built inside OpenAlgo, :class:`StandaloneOrderAdapterBase` anywhere else.
Nothing here reads the environment, opens a socket or touches a database.

Limitation: a process that imports the market-data adapter *before* ``websocket_proxy`` gets
the stand-in base. OpenAlgo's own start-up order never does that.
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


class StandaloneOrderAdapterBase:
    """What the order-update adapter needs from OpenAlgo's ``BaseOrderUpdateAdapter``, outside OpenAlgo.

    ``_publish_event_fields(fields)`` hands each event (the keyword arguments of OpenAlgo's
    ``OrderUpdateEvent``) to ``on_event``; OpenAlgo's base publishes it on its event bus.
    """

    def __init__(self, broker_name: str, user_id: str) -> None:
        self.broker_name = broker_name
        self.user_id = user_id
        self.logger = host.get_logger(f"{__name__}.orders")
        self.on_event: Callable[[dict[str, Any]], None] | None = None

    def _publish_event_fields(self, fields: dict[str, Any]) -> None:
        callback = self.on_event
        if callback is not None:
            callback(dict(fields))


def choose_base() -> type:
    """OpenAlgo's ``BaseBrokerWebSocketAdapter`` inside the proxy, else :class:`StandaloneAdapterBase`."""
    return host.openalgo_adapter_base() or StandaloneAdapterBase


def hosted_base(cls: type) -> bool:
    """True when ``cls`` derives from OpenAlgo's base class."""
    return not issubclass(cls, StandaloneAdapterBase)


def choose_order_base() -> type:
    """OpenAlgo's ``BaseOrderUpdateAdapter`` inside OpenAlgo, else :class:`StandaloneOrderAdapterBase`."""
    return host.openalgo_order_adapter_base() or StandaloneOrderAdapterBase


def stored_token_provider(user_id: str | None, fallback: str | None = None) -> Callable[[], str | None]:
    """Read the user's current token through the host seam on every call (contract 3.3, 11.5).

    Tokens roll over daily and a new login replaces them, so long-lived threads ask again
    before every connection instead of keeping the one they started with.
    """

    def provide() -> str | None:
        session = host.stored_session(user_id)
        if session is not None and session.access_token:
            return session.access_token
        return fallback

    return provide
