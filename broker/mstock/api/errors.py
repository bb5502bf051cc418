"""Exception tree, split by what the caller should do, and the broker-code table.

``MStockRejected`` and its children are permanent: the broker (or our own validation)
said no, and sending the same thing again will not help. ``MStockTransient`` may succeed
if an *idempotent read* is retried. ``OutcomeUnknown`` is special: a request that creates
or changes an order was sent but we never learned its fate; callers must reconcile
(order book, by ``ordertag``) and must never resend blindly.

Every exception carries ``http_status``, ``code`` (the broker's ``errorcode`` /
``error_type``), ``message`` (the broker's text, or ours) and ``route``. None of them
ever holds a token, API key, password or OTP: messages are built from broker text and
route names only, and are passed through the redactor as a second line of defence.
"""

from __future__ import annotations

import re

from ..redact import redact


class MStockError(Exception):
    """Base class for every error this plugin raises."""

    default_message = "mStock request failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        http_status: int | None = None,
        code: str | None = None,
        route: str | None = None,
    ) -> None:
        self.message = redact((message or self.default_message).strip())
        self.http_status = http_status
        self.code = (code or "").strip() or None
        self.route = route
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]" if self.code else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, http_status={self.http_status!r}, "
            f"code={self.code!r}, route={self.route!r})"
        )


class ConfigError(MStockError):
    """A required setting is missing or unsafe; nothing was sent."""


class ValidationError(MStockError):
    """Our own check rejected the input before anything was sent."""


class UnknownSymbol(ValidationError):
    """The OpenAlgo symbol is not in the symbol table for that exchange."""


# --- permanent: the broker said no -----------------------------------------------------


class MStockRejected(MStockError):
    """The broker rejected the request; resending it unchanged will not help."""


class AuthError(MStockRejected):
    """Authentication failed."""


class SessionExpired(AuthError):
    """The access token is missing, expired or invalid (IA401, 401, TokenException): log in again."""

    default_message = "mStock session expired or invalid: log in again"


class InvalidCredentials(AuthError):
    """Wrong password, OTP or TOTP at login (MA500 / MA400 on the login routes)."""


class ApiKeyRejected(AuthError):
    """The API key is invalid/expired/suspended or the IP is not whitelisted (IA403)."""

    default_message = "mStock API key rejected (expired, suspended or IP not whitelisted)"


class InputRejected(MStockRejected):
    """The broker rejected the parameters (IA400, 400, ASP.NET ProblemDetails)."""


class NotFound(MStockRejected):
    """The resource does not exist (IA404)."""


class OrderRejected(MStockRejected):
    """The broker's RMS/OMS rejected the order (RS-*)."""


class InsufficientFunds(OrderRejected):
    """RMS rejected the order for lack of funds (RS-0111)."""


class BackOfficeError(MStockRejected):
    """An error passed through from mStock's back office (MA*)."""


# --- may succeed later (only idempotent reads are retried) -------------------------------


class MStockTransient(MStockError):
    """A failure that may go away: network, timeout, rate limit, 5xx, gateway pages."""


class NetworkError(MStockTransient):
    default_message = "could not reach mStock"


class RequestTimeout(MStockTransient):
    default_message = "mStock did not answer in time"


class RateLimited(MStockTransient):
    default_message = "mStock rate limit reached"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerUnavailable(MStockTransient):
    default_message = "mStock server error"


class BadResponse(MStockTransient):
    """A body we cannot interpret (not JSON, empty, unknown shape)."""

    default_message = "mStock sent a response that could not be understood"


# --- neither: a write whose fate is unknown ----------------------------------------------


class OutcomeUnknown(MStockError):
    """A request that creates or changes an order was sent, but its result never arrived.

    It may or may not have been executed. Never resend: look the order up.
    """

    default_message = "mStock did not confirm the request; its outcome is unknown"


class OrderStateUnknown(OutcomeUnknown):
    """Reconciliation after :class:`OutcomeUnknown` could not establish what happened."""


# --- broker code table --------------------------------------------------------------------

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
