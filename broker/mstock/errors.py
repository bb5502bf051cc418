"""The exception tree, split by what the caller should do.

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

from .redact import redact


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


# The HTTP-like status OpenAlgo relays for each failure; most specific class first.
_HTTP_STATUS: tuple[tuple[type[MStockError], int], ...] = (
    (ConfigError, 500),
    (ValidationError, 400),
    (SessionExpired, 401),
    (ApiKeyRejected, 403),
    (AuthError, 401),
    (NotFound, 404),
    (RateLimited, 429),
    (RequestTimeout, 504),
    (OutcomeUnknown, 504),
    (ServerUnavailable, 502),
    (NetworkError, 502),
    (BadResponse, 502),
)


def http_status_for(exc: MStockError) -> int:
    """The HTTP status OpenAlgo should relay for ``exc`` (400 for plain rejections)."""
    for cls, status in _HTTP_STATUS:
        if isinstance(exc, cls):
            return status
    return 400
