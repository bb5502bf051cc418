"""The mStock error-code table: which exception a broker failure becomes (spec 1.4, 1.6).

The exception tree itself lives in :mod:`broker.mstock.errors` (every layer raises it);
this table is the transport's knowledge of mStock's codes: exact ``errorcode`` /
``error_type`` values, then code prefixes, then the HTTP status.
"""

from __future__ import annotations

import re

from ..errors import (
    ApiKeyRejected,
    BackOfficeError,
    InputRejected,
    InsufficientFunds,
    MStockError,
    MStockRejected,
    NotFound,
    OrderRejected,
    RateLimited,
    RequestTimeout,
    ServerUnavailable,
    SessionExpired,
)

# Exact broker codes (``errorcode`` or ``error_type``), spec 1.4 and 1.6.
ERROR_CODES: dict[str, type[MStockError]] = {
    "IA400": InputRejected,  # "Trigger price can not be blank."
    "IA401": SessionExpired,  # "Invalid request. Please try again."
    "IA403": ApiKeyRejected,  # "API is suspended/expired..." or IP whitelist mismatch
    "IA404": NotFound,
    "IA500": ServerUnavailable,
    "IA429": RateLimited,  # invented by spec 2.1's simulator suggestion; harmless if real
    "400": InputRejected,  # "Please provide valid clientcode and password."
    "RS-0111": InsufficientFunds,  # "...FUND LIMIT INSUFFICIENT,AVAILABLE FUND=0,..."
    "TokenException": SessionExpired,  # Type A style, SDK-B session-expiry hook
    "APIKeyException": ApiKeyRejected,
    "VersionException": InputRejected,  # missing X-Mirae-Version
    "InputException": InputRejected,  # cancelall "Order Does not Exsist"
    "OrderException": OrderRejected,
    "NetworkException": ServerUnavailable,
}

# Prefixes, tried longest first when no exact code matches.
ERROR_PREFIXES: tuple[tuple[str, type[MStockError]], ...] = (
    ("RS-", OrderRejected),
    ("MA", BackOfficeError),
    ("IA", MStockRejected),
)

# HTTP status fallback when the body names no code.
HTTP_STATUS_ERRORS: dict[int, type[MStockError]] = {
    400: InputRejected,
    401: SessionExpired,
    403: ApiKeyRejected,
    404: NotFound,
    408: RequestTimeout,
    409: InputRejected,
    422: InputRejected,
    429: RateLimited,
}


def error_class_for(code: str | None, http_status: int | None) -> type[MStockError]:
    """Choose the exception class for a broker failure: exact code, prefix, then HTTP status."""
    if code:
        exact = ERROR_CODES.get(code)
        if exact is not None:
            return exact
        for prefix, cls in ERROR_PREFIXES:
            if code.startswith(prefix):
                return cls
    if http_status is not None:
        if http_status in HTTP_STATUS_ERRORS:
            return HTTP_STATUS_ERRORS[http_status]
        if http_status >= 500:
            return ServerUnavailable
    return MStockRejected


_RMS_FIELD = re.compile(r"([A-Z][A-Z ]+?)\s*=\s*(-?[\d.]+)")


def readable_reason(message: str) -> str:
    """Make an RMS rejection readable; other texts pass through unchanged.

    ``RMS:1141...:NSE,EQUITY,22,ACC,...,FUND LIMIT INSUFFICIENT,AVAILABLE FUND=0,
    ADDITIONAL REQUIRED FUND=572.36,CALCULATED MARGIN FOR ORDER=572.36`` (spec 4.3)
    becomes ``insufficient funds: required 572.36, available 0``.
    """
    text = (message or "").strip()
    if not text.upper().startswith("RMS:"):
        return text
    fields = {k.strip().upper(): v for k, v in _RMS_FIELD.findall(text)}
    if "FUND LIMIT INSUFFICIENT" in text.upper():
        required = fields.get("CALCULATED MARGIN FOR ORDER") or fields.get("ADDITIONAL REQUIRED FUND")
        available = fields.get("AVAILABLE FUND")
        if required is not None and available is not None:
            return f"insufficient funds: required {required}, available {available}"
        return "insufficient funds"
    # Otherwise keep the last free-text item of the comma list: it carries the reason.
    parts = [p.strip() for p in text.split(",") if p.strip() and "=" not in p]
    reason = parts[-1] if parts else text
    return f"rejected by RMS: {reason.lower()}"
