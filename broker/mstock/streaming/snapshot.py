"""One Snap Quote from the feed, for ``BrokerData.get_depth`` (spec 11.3 mode 3; contract 9.4).

Opens its own short-lived socket (TLS verified, D7), sends ``LOGIN:`` and a mode-3
subscription for one token, returns the first full packet for that token, and always
closes the socket, whatever happens (upstream-review D26). A bounded deadline covers the
whole exchange.
"""

from __future__ import annotations

import time
from typing import Any

import websocket

from .. import config
from ..errors import NetworkError, RequestTimeout, ValidationError
from ..host import get_logger
from ..redact import redact, register_secret
from .connection import open_socket
from .parser import FeedParser
from .protocol import ACTION_SUBSCRIBE, MODE_SNAP, check_token, feed_url, login_frame, request_frames

log = get_logger(__name__)


def depth_snapshot(auth_token: str, exchange: str, token: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The first Snap Quote packet for ``token`` as a dict (see :class:`parser.FeedParser`).

    ``exchange`` is the OpenAlgo exchange (it picks the feed segment, D11). Rupee floats:
    ``ltp, last_qty, avg_price, volume, total_buy_qty, total_sell_qty, open, high, low,
    close, oi, bids, asks`` (5 ``{price, quantity, orders}`` each) and more. Raises
    :class:`RequestTimeout` if no packet arrives within ``timeout`` seconds,
    ``SessionExpired``/``ApiKeyRejected`` when the feed refuses the credentials.
    """
    from ..mapping.exchanges import FEED_EXCHANGE_TYPE

    exchange_type = FEED_EXCHANGE_TYPE.get(exchange)
    if exchange_type is None:
        raise ValidationError(f"{exchange} is not supported on the mStock feed")
    token = check_token(token)
    settings = config.settings()
    settings.require("BROKER_API_SECRET")
    register_secret(auth_token, settings.api_key)
    deadline = time.monotonic() + timeout
    ws = open_socket(feed_url(settings.ws_url, settings.api_key or "", auth_token), timeout=timeout)
    parser = FeedParser()
    try:
        ws.send(login_frame(auth_token))
        for frame in request_frames(ACTION_SUBSCRIBE, MODE_SNAP, {exchange_type: [token]}):
            ws.send(frame)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ws.settimeout(remaining)
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise NetworkError("the mStock feed closed the connection before sending depth")
            if opcode != websocket.ABNF.OPCODE_BINARY:
                continue
            for tick in parser.feed(data):
                if tick["mode"] == MODE_SNAP and tick["token"] == token and tick["exchange_type"] == exchange_type:
                    return tick
    except websocket.WebSocketConnectionClosedException:
        raise NetworkError("the mStock feed closed the connection before sending depth") from None
    except (websocket.WebSocketException, OSError) as exc:
        raise NetworkError(f"mStock feed connection failed: {type(exc).__name__}: {redact(exc)}") from None
    finally:
        _close(ws)
    raise RequestTimeout(f"no depth for token {token} on the mStock feed within {timeout:g} s")


def _close(ws: websocket.WebSocket) -> None:
    try:
        ws.close(timeout=0.2)
    except (websocket.WebSocketException, OSError):
        pass
    ws.shutdown()
