"""Login, logout and the saved CLI session (spec 3; contract 2.2).

OpenAlgo's mstock login route calls :func:`authenticate_with_totp` by name with the
password and the 6-digit code typed into its form, and expects
``(auth_token, feed_token, error_message)``: on failure ``(None, None, "<reason>")`` with
a non-empty reason, because the route checks only the message (contract 2.2 step e).

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
from ..host import get_logger
from ..redact import mask_id, register_secret
from . import session_store
from .client import MStockClient, get_client, reset_clients
from .errors import (
    ApiKeyRejected,
    ConfigError,
    InputRejected,
    MStockError,
    MStockRejected,
    MStockTransient,
    SessionExpired,
)

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


def _login_client() -> MStockClient:
    settings = config.settings()
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
    settings = config.settings()
    source = totp_source(totp, fallback_secret=settings.totp_secret)
    client = _login_client()
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
    return result


def explain_login_failure(exc: MStockError) -> str:
    """A specific, non-empty message for the login form (never contains a secret)."""
    text = str(exc)
    if isinstance(exc, ConfigError):
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


def authenticate_with_totp(password, totp):
    """OpenAlgo's mstock login entry point (contract 2.2).

    Returns ``(auth_token, feed_token, None)`` on success and ``(None, None, message)``
    on any failure. ``totp`` may be the 6-digit code or the base32 TOTP secret.
    """
    if not password:
        return None, None, "Password is required."
    if not totp:
        return None, None, "TOTP code is required."
    try:
        result = login_with_totp(str(password), str(totp))
    except MStockError as exc:
        message = explain_login_failure(exc)
        log.warning("mStock login failed: %s", message)
        return None, None, message
    return result.access_token, result.feed_token, None


def authenticate_broker(password, totp):
    """Required by OpenAlgo's plugin loader (contract 1.1); same as :func:`authenticate_with_totp`.

    OpenAlgo's mstock route calls ``authenticate_with_totp`` directly; this name must
    exist for the callback route to be registered at all.
    """
    return authenticate_with_totp(password, totp)


def send_otp(password):
    """OTP accounts, step 1: trigger the OTP. Returns ``(request_token, message, error)``."""
    try:
        settings = config.settings()
        client = _login_client()
        try:
            token, message = _request_token(client, settings.client_code or "", str(password))
        finally:
            client.close()
    except MStockError as exc:
        return None, None, explain_login_failure(exc)
    return token, message or "OTP sent", None


def verify_otp(otp, request_token):
    """OTP accounts, step 2 (spec 3.2): returns ``(auth_token, feed_token, error)``."""
    register_secret(otp, request_token)
    try:
        client = _login_client()
        try:
            data = client.call("auth.session_token", json={"refreshToken": str(request_token), "otp": str(otp).strip()})
        finally:
            client.close()
        result = _session_from(data, "auth.session_token")
    except MStockError as exc:
        return None, None, explain_login_failure(exc)
    return result.access_token, result.feed_token, None


def logout(auth) -> tuple[bool, str | None]:
    """Invalidate the mStock session (spec 3.5). Returns ``(ok, error)``."""
    try:
        get_client(auth).call("auth.logout")
    except SessionExpired:
        return True, None  # already dead: the goal is reached
    except MStockError as exc:
        return False, str(exc)
    finally:
        reset_clients()
    return True, None


# ------------------------------------------------------------------ CLI session


def login_headless(*, force: bool = False) -> session_store.SavedSession:
    """Log in from ``MSTOCK_PASSWORD`` + ``MSTOCK_TOTP_SECRET`` and save the session.

    An unexpired saved session for the same account and server is reused unless
    ``force``; mStock tokens last until IST midnight (spec 2.2).
    """
    settings = config.settings()
    settings.require("BROKER_API_KEY", "BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET")
    if not force:
        saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
        if saved is not None:
            return saved
    result = login_with_totp(settings.password or "", settings.totp_secret or "")
    saved = session_store.new_session(
        result.access_token,
        result.feed_token,
        client_code=settings.client_code or "",
        base_url=settings.base_url,
        client_name=result.client_name,
    )
    session_store.save(settings.session_file, saved)
    return saved


def current_auth_token() -> str:
    """The saved CLI session's access token, or :class:`SessionExpired` with what to do."""
    settings = config.settings()
    saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
    if saved is None:
        raise SessionExpired("no saved mStock session: log in first with `mstock-openalgo login`")
    return saved.access_token


def logout_headless() -> tuple[bool, str | None]:
    settings = config.settings()
    saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
    session_store.clear(settings.session_file)
    if saved is None:
        return True, None
    return logout(saved.access_token)
