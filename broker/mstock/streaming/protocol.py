"""The feed's wire vocabulary apart from binary ticks (spec 11.1, 11.2, 11.4).

Pure functions: the connection URL, the subscribe/unsubscribe request frames, and the
classification of text frames. Nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import ValidationError

ACTION_SUBSCRIBE = 1
ACTION_UNSUBSCRIBE = 0

MODE_LTP = 1
MODE_QUOTE = 2
MODE_SNAP = 3
MODES = (MODE_LTP, MODE_QUOTE, MODE_SNAP)
MODE_NAMES: dict[int, str] = {MODE_LTP: "LTP", MODE_QUOTE: "QUOTE", MODE_SNAP: "DEPTH"}
MODE_BY_NAME: dict[str, int] = {"ltp": MODE_LTP, "quote": MODE_QUOTE, "depth": MODE_SNAP, "snap": MODE_SNAP}

MAX_TOKEN_LENGTH = 25  # the packet's token field (spec 11.3)

# Characters left literal in the query string. ``/`` and ``@`` occur in real API keys
# (spec 12) and are legal in a query; ``+`` must be escaped or an ASP.NET-style server
# reads it as a space.
_QUERY_SAFE = "/@:="


def feed_url(ws_url: str, api_key: str, access_token: str) -> str:
    """``wss://ws.mstock.trade?API_KEY=<key>&ACCESS_TOKEN=<jwt>`` (spec 11.1).

    The result holds two secrets: never log it (use :func:`display_url`).
    """
    separator = "&" if "?" in ws_url else "?"
    return (
        f"{ws_url}{separator}API_KEY={quote(api_key, safe=_QUERY_SAFE)}"
        f"&ACCESS_TOKEN={quote(access_token, safe=_QUERY_SAFE)}"
    )


def display_url(ws_url: str) -> str:
    """The feed address without query or credentials, safe for logs."""
    parts = urlsplit(ws_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def login_frame(access_token: str) -> str:
    """The text frame that must follow the upgrade at once (spec 11.1); holds a secret."""
    return f"LOGIN:{access_token}"


def check_mode(mode: int) -> int:
    if mode not in MODES:
        raise ValidationError(f"unknown feed mode {mode!r}: use 1 (LTP), 2 (Quote) or 3 (Depth)")
    return mode


def check_token(token: str) -> str:
    text = str(token).strip()
    if not text or len(text) > MAX_TOKEN_LENGTH or not text.isascii():
        raise ValidationError(f"invalid instrument token {token!r} for the mStock feed")
    return text


def request_frames(
    action: int,
    mode: int,
    tokens: Mapping[int, Sequence[str]],
    *,
    max_tokens: int = 500,
    correlation_id: str | None = None,
) -> list[str]:
    """JSON request frames for ``tokens`` ({exchangeType: [token, ...]}) (spec 11.2).

    One frame carries several ``tokenList`` entries; frames are split every
    ``max_tokens`` tokens because the server's per-request limit is unknown (spec 11.2).
    """
    frames: list[str] = []
    batch: list[dict[str, Any]] = []
    room = max_tokens

    def close_batch() -> None:
        nonlocal batch, room
        if batch:
            body: dict[str, Any] = {"action": action, "params": {"mode": mode, "tokenList": batch}}
            if correlation_id:
                body = {"correlationID": f"{correlation_id}-{len(frames) + 1}", **body}
            frames.append(json.dumps(body, separators=(",", ":")))
        batch, room = [], max_tokens

    for exchange_type in sorted(tokens):
        pending = list(tokens[exchange_type])
        while pending:
            take, pending = pending[:room], pending[room:]
            batch.append({"exchangeType": exchange_type, "tokens": take})
            room -= len(take)
            if room == 0:
                close_batch()
    close_batch()
    return frames


# ------------------------------------------------------------------ text frames


@dataclass(frozen=True)
class TextMessage:
    """A classified text frame: ``kind`` is "order", "trade", "error" or "other"."""

    kind: str
    data: Any


def classify_text(text: str | bytes) -> TextMessage:
    """Order/trade updates in both shapes of spec 11.4, and ``{"type":"error"}`` (11.2)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return TextMessage("other", text)
    if not isinstance(body, dict):
        return TextMessage("other", body)
    # Current SDKs: {"order_status": "order"|"trade", "orderData": {...}}
    status = body.get("order_status")
    if isinstance(status, str) and status.lower() in ("order", "trade") and "orderData" in body:
        return TextMessage(status.lower(), body.get("orderData"))
    # Older NODE-B / Type A: {"type": "order"|"trade"|"error", "data": ...}
    kind = body.get("type")
    if isinstance(kind, str):
        kind = kind.lower()
        if kind in ("order", "trade"):
            return TextMessage(kind, body.get("data"))
        if kind == "error":
            return TextMessage("error", body.get("data", body.get("message")))
    return TextMessage("other", body)


def group_by_exchange(keys: Iterable[tuple[int, str]]) -> dict[int, list[str]]:
    """{exchangeType: [tokens]} from ``(exchangeType, token)`` keys, tokens sorted."""
    groups: dict[int, list[str]] = {}
    for exchange_type, token in keys:
        groups.setdefault(exchange_type, []).append(token)
    for tokens in groups.values():
        tokens.sort()
    return groups
