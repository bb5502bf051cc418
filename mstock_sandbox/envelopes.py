"""The response envelopes of spec 1.4, exactly as mStock mixes them.

Which style an endpoint uses is part of the sandbox's fidelity: string ``"true"`` on
login, orders, positions, holdings, quote and historical; boolean ``true`` on verifytotp,
fundsummary, logout and intraday; ``"success"`` on cancel-all; the place-order envelope
wrapped in a one-element list; Kite-style ``error_type`` bodies; ASP.NET ProblemDetails for
model-validation failures. Texts marked [INVENTED] are the sandbox's own choice where no
source shows the real one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    """What a handler answers: an HTTP status and a JSON-serialisable body (or raw bytes)."""

    status: int
    body: Any
    content_type: str = "application/json; charset=utf-8"
    outcome: str = ""  # a short, secret-free note for the session log


class ApiError(Exception):
    """Raised anywhere in request handling; becomes the reply it carries."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.outcome or str(reply.status))
        self.reply = reply


# ---------------------------------------------------------------------- success styles


def ok_str(data: Any, message: str = "SUCCESS", *, errorcode: Any = "", outcome: str = "") -> Reply:
    return Reply(200, {"status": "true", "message": message, "errorcode": errorcode, "data": data}, outcome=outcome)


def ok_bool(data: Any, message: str = "SUCCESS", *, errorcode: Any = "", outcome: str = "") -> Reply:
    return Reply(200, {"status": True, "message": message, "errorcode": errorcode, "data": data}, outcome=outcome)


def ok_list_wrapped(data: Any, *, outcome: str = "") -> Reply:
    # Place order answers inside a one-element list (spec 1.4 item 4, 4.3 [INFERRED compromise]).
    body = [{"status": "true", "message": "SUCCESS", "errorcode": "", "data": data}]
    return Reply(200, body, outcome=outcome)


def ok_success_word(data: Any, *, outcome: str = "") -> Reply:
    # Cancel-all's Kite-like success shape (spec 4.6).
    return Reply(200, {"status": "success", "data": data}, outcome=outcome)


# ---------------------------------------------------------------------- failure styles


def fail_str(message: str, errorcode: str, *, status: int = 200, outcome: str = "") -> Reply:
    body = {"status": "false", "message": message, "errorcode": errorcode, "data": None}
    return Reply(status, body, outcome=outcome or f"{errorcode} {message[:80]}")


def fail_bool(message: str, errorcode: str, *, status: int = 200, outcome: str = "") -> Reply:
    body = {"status": False, "message": message, "errorcode": errorcode, "data": None}
    return Reply(status, body, outcome=outcome or f"{errorcode} {message[:80]}")


def fail_error_type(message: str, error_type: str | None, *, status: int = 200, outcome: str = "") -> Reply:
    body: dict[str, Any] = {"status": "error", "message": message}
    if error_type is not None:
        body["error_type"] = error_type
    body["data"] = None
    return Reply(status, body, outcome=outcome or f"{error_type or 'error'} {message[:80]}")


def problem_details(errors: dict[str, list[str]], *, outcome: str = "") -> Reply:
    """ASP.NET Core model-validation failure (spec 1.4 item 6)."""
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors,
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    return Reply(400, body, outcome=outcome or "ProblemDetails " + ", ".join(errors))


def html_page(status: int, title: str | None = None) -> Reply:
    """A gateway error page, the way a load balancer in front of the API answers."""
    title = title or {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}.get(
        status, f"{status} Error"
    )
    text = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return Reply(status, text.encode(), content_type="text/html", outcome=f"HTML {title}")


# ---------------------------------------------------------------------- common failures

INVALID_REQUEST = "Invalid request. Please try again."
API_SUSPENDED = "API is suspended/expired for use. Please check your API subscription and try again."


def version_error() -> Reply:
    # HTTP 200 per the DOC sample (spec 1.2, 13 item 1).
    return fail_error_type("Please provide valid api version.", "VersionException", outcome="VersionException")


def key_error(route: str) -> Reply:
    """Missing or wrong X-PrivateKey (spec 1.6 IA403; session routes use the error_type style, spec 3.2)."""
    if route in ("auth.session_token", "auth.verify_totp"):
        return fail_error_type(API_SUSPENDED, None, status=403, outcome="IA403 API key rejected")
    return fail_str(API_SUSPENDED, "IA403", status=403, outcome="IA403 API key rejected")


def ip_error() -> Reply:
    # spec 2.4 (3P fixtures show this text with IA403).
    return fail_str("Primary and Secondary IP Address are not matching with current IP address.", "IA403",
                    status=403, outcome="IA403 IP not whitelisted")


def token_error(route: str) -> Reply:
    """Missing, expired, logged-out or forged bearer token (spec 1.6 IA401)."""
    if route == "market.intraday":
        return fail_bool("Incorrect auth. Please try again.", "IA401", status=401, outcome="IA401 bad token")
    if route == "auth.logout":
        return fail_bool(INVALID_REQUEST, "IA401", status=401, outcome="IA401 bad token")
    return fail_str(INVALID_REQUEST, "IA401", status=401, outcome="IA401 bad token")


def bad_input(message: str, code: str = "IA400") -> ApiError:
    """A parameter problem: HTTP 400 (spec 1.6 IA400 / bare "400")."""
    return ApiError(fail_str(message, code, status=400))


def rate_limited(category: str, shape: str = "http-429") -> Reply:
    """[INVENTED] shape suggested by spec 2.1: no source shows mStock's real answer.

    ``shape`` "http-429" answers HTTP 429; "http-200" the same body with HTTP 200 (a
    gateway that reports every refusal in the envelope).
    """
    status = 200 if shape == "http-200" else 429
    return fail_str("Rate limit exceeded", "IA429", status=status, outcome=f"IA429 {category} rate limit (HTTP {status})")


def not_found() -> Reply:
    return fail_str("Resource not found.", "IA404", status=404, outcome="IA404 no such route")
