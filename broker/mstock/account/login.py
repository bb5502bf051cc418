"""Login and logout (spec 3).

Flow (spec 3): ``connect/login`` with an **empty** ``totp`` returns a request token (a
UUID), then ``session/verifytotp`` (TOTP accounts) or ``session/token`` (OTP accounts)
exchanges it for the trading JWT and the feed token. Sending the TOTP in step 1 yields a
short token that REST rejects (spec 3.1 [CONFLICT], 3P-GUIDE), so we never do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyotp

from .. import config
from ..errors import (
    ApiKeyRejected,
    ConfigError,
    InputRejected,
    MStockError,
    MStockRejected,
    MStockTransient,
    SessionExpired,
    ValidationError,
)
from ..host import get_logger
from ..mapping.transform_data import load_order_models
from ..redact import mask_id, register_secret
from ..transport.client import MStockClient, reset_clients

log = get_logger(__name__)

_SIX_DIGITS = re.compile(r"^\d{6}$")
_BASE32 = re.compile(r"^[A-Z2-7]+=*$")


@dataclass(frozen=True)
class LoginResult:
    access_token: str = field(repr=False)
    feed_token: str | None = field(repr=False)
    client_name: str | None = None


@dataclass(frozen=True)
class _TotpSource:
    """A typed code, or a secret from which fresh codes can be made."""

    code: str = field(repr=False)
    secret: str | None = field(repr=False, default=None)

    def fresh(self) -> str | None:
        """The current window's code, if the used one was valid but has just rolled over.

        A code that was simply wrong (not the previous window's) gets no second try: the
        user mistyped it, and a silent retry with a generated code would hide that.
        """
        if not self.secret:
            return None
        totp = pyotp.TOTP(self.secret)
        code = totp.now()
        if code == self.code or not totp.verify(self.code, valid_window=1):
            return None
        return code


def _normalise_secret(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def totp_source(totp: str, *, fallback_secret: str | None = None) -> _TotpSource:
    """Interpret what the user typed: a 6-digit code, or the base32 TOTP secret itself.

    Users sometimes paste the secret instead of a code (3P-GUIDE); with a secret we can
    also make a fresh code if the 30-second window rolls over during login.
    """
    value = (totp or "").strip()
    if _SIX_DIGITS.match(value):
        register_secret(value)
        secret = _normalise_secret(fallback_secret) if fallback_secret else None
        register_secret(secret)
        return _TotpSource(code=value, secret=secret)
    candidate = _normalise_secret(value)
    if len(candidate) >= 16 and _BASE32.match(candidate):
        register_secret(value, candidate)
        try:
            code = pyotp.TOTP(candidate).now()
        except (ValueError, TypeError) as exc:
            raise InputRejected("the TOTP secret is not valid base32") from exc
        register_secret(code)
        return _TotpSource(code=code, secret=candidate)
    raise InputRejected("TOTP must be the 6-digit code from your authenticator (or the base32 TOTP secret)")


def _login_client(settings: config.Settings) -> MStockClient:
    settings.require("BROKER_API_KEY", "BROKER_API_SECRET")
    return MStockClient(None, api_key=settings.api_key, base_url=settings.base_url)


def _request_token(client: MStockClient, client_code: str, password: str) -> tuple[str, str]:
    """Step 1 (spec 3.1): returns (request token, broker message)."""
    register_secret(password)
    reply = client.call(
        "auth.login",
        json={"clientcode": client_code, "password": password, "totp": "", "state": ""},
        full=True,
    )
    data = reply.data if isinstance(reply.data, dict) else {}
    # The request token arrives as data.jwtToken in the docs; OA also reads refreshToken.
    token = data.get("refreshToken") or data.get("jwtToken")
    if not token:
        raise MStockRejected("mStock login returned no request token", route="auth.login")
    register_secret(token)
    return str(token), reply.message


def _session_from(data: object, route: str) -> LoginResult:
    payload = data if isinstance(data, dict) else {}
    access = payload.get("jwtToken")
    feed = payload.get("feedToken") or None
    if not access:
        raise MStockRejected("mStock returned no access token", route=route)
    register_secret(access, feed, payload.get("refreshToken"))
    return LoginResult(access_token=str(access), feed_token=feed, client_name=payload.get("ClientName"))


def _is_wrong_totp(exc: MStockError) -> bool:
    return exc.code == "MA400" or "totp" in exc.message.lower()


def login_with_totp(password: str, totp: str) -> LoginResult:
    """Password + TOTP login; raises a typed :class:`MStockError` on failure."""
    if not password:
        raise ValidationError("Password is required.")
    if not totp:
        raise ValidationError("TOTP code is required.")
    settings = config.settings()
    source = totp_source(totp, fallback_secret=settings.totp_secret)
    client = _login_client(settings)
    try:
        request_token, _ = _request_token(client, settings.client_code or "", password)
        try:
            data = client.call("auth.verify_totp", json={"refreshToken": request_token, "totp": source.code})
        except MStockRejected as exc:
            fresh = source.fresh() if _is_wrong_totp(exc) else None
            if fresh is None:
                raise
            # The 30 s window rolled over between reading the code and verifying it.
            log.info("TOTP rejected; retrying once with the code of the new 30 s window")
            register_secret(fresh)
            data = client.call("auth.verify_totp", json={"refreshToken": request_token, "totp": fresh})
        result = _session_from(data, "auth.verify_totp")
    finally:
        client.close()
    log.info("mStock login succeeded for %s", mask_id(settings.client_code))
    _prepare_for_orders()
    return result


def explain_login_failure(exc: MStockError) -> str:
    """A specific, non-empty message for the login form (never contains a secret)."""
    text = str(exc)
    if isinstance(exc, (ConfigError, ValidationError)):
        return text
    if isinstance(exc, ApiKeyRejected):
        if re.search(r"\bIP\b", text):
            return f"mStock refused this machine's IP address (whitelist it on the Trading APIs page): {text}"
        return f"mStock API key rejected (expired, suspended or wrong BROKER_API_SECRET): {text}"
    if exc.route == "auth.login":
        if "attempt" in text.lower() or exc.code == "MA500":
            return f"wrong client code or password: {text}"
        if exc.code == "400":
            return f"mStock rejected the client code or password: {text}"
    if exc.route in ("auth.verify_totp", "auth.session_token"):
        if exc.route == "auth.verify_totp" and _is_wrong_totp(exc):
            return "wrong TOTP code: check the authenticator's clock and enter the current 6-digit code"
        if "otp" in text.lower():
            return f"OTP rejected: {text}"
    if isinstance(exc, MStockTransient):
        return f"could not reach mStock, try again: {text}"
    return f"mStock login failed: {text}"


def request_otp(password: str) -> tuple[str, str]:
    """OTP accounts, step 1 (spec 3.1): triggers the OTP; returns (request token, broker message)."""
    if not password:
        raise ValidationError("Password is required.")
    settings = config.settings()
    client = _login_client(settings)
    try:
        return _request_token(client, settings.client_code or "", password)
    finally:
        client.close()


def login_with_otp(otp: str, request_token: str) -> LoginResult:
    """OTP accounts, step 2 (spec 3.2): exchange the request token and the OTP for a session."""
    register_secret(otp, request_token)
    if not str(otp).strip().isdigit():
        raise ValidationError("the OTP must be the numeric code mStock sent (digits only)")
    if not str(request_token).strip():
        raise ValidationError("the OTP request has expired or was never made: request a new OTP")
    client = _login_client(config.settings())
    try:
        data = client.call("auth.session_token", json={"refreshToken": str(request_token), "otp": str(otp).strip()})
    finally:
        client.close()
    result = _session_from(data, "auth.session_token")
    _prepare_for_orders()
    return result


def _prepare_for_orders() -> None:
    # The order validators (pydantic) are built on first use so that OpenAlgo's imports of
    # the plugin stay light; right after a login is when building them keeps nobody waiting.
    load_order_models()


def logout(client: MStockClient) -> None:
    """Invalidate the mStock session (spec 3.5); an already dead session counts as logged out."""
    try:
        client.call("auth.logout")
    except SessionExpired:
        pass  # already dead: the goal is reached
    finally:
        reset_clients()
