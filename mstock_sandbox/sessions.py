"""Login and sessions (spec 3): request token, TOTP/OTP, JWT-shaped tokens, expiry, logout.

Flow: ``connect/login`` (client code + password) returns a one-time request token (UUID);
``session/verifytotp`` (TOTP) or ``session/token`` (OTP) exchanges it for a trading token,
a refresh token and a feed token. Trading tokens die at IST midnight or after
``session_max_hours`` (spec 2.2), on logout, or when a test expires them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp

from .clock import Clock, next_midnight
from .config import SandboxAccount, SandboxConfig
from .envelopes import ApiError, fail_error_type, fail_str


@dataclass
class Session:
    access_token: str = field(repr=False)
    feed_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    client_code: str
    issued: datetime
    expires: datetime
    active: bool = True


@dataclass
class _RequestToken:
    issued: datetime
    used: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionManager:
    """Credentials checks and live sessions of the sandbox's one account."""

    def __init__(self, account: SandboxAccount, config: SandboxConfig, clock: Clock) -> None:
        self.account = account
        self._config = config
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._request_tokens: dict[str, _RequestToken] = {}
        self._failures = 0

    def reset(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._request_tokens.clear()
            self._failures = 0

    # ------------------------------------------------------------------ step 1

    def login(self, clientcode: str, password: str) -> str:
        """Check client code + password; return a request token or raise the broker's refusal."""
        if not clientcode or not password:
            raise ApiError(fail_str("Please provide valid clientcode and password.", "400", status=400))
        with self._lock:
            if self._failures >= self._config.login_attempts:
                # [INVENTED] text: no source shows the lock-out message.
                raise ApiError(
                    fail_str("Your account is locked due to multiple wrong attempts. Please reset your password.", "MA500")
                )
            if clientcode.strip().upper() != self.account.client_code.upper() or password != self.account.password:
                self._failures += 1
                remaining = self._config.login_attempts - self._failures
                # Trailing space as in the DOC sample (spec 3.1).
                raise ApiError(
                    fail_str(f"Invalid username or password. {remaining} attempts remaining ", "MA500",
                             outcome=f"MA500 wrong password ({remaining} left)")
                )
            self._failures = 0
            token = str(uuid.uuid4())
            self._request_tokens[token] = _RequestToken(self._clock())
            return token

    # ------------------------------------------------------------------ step 2

    def _take_request_token(self, refresh_token: str) -> None:
        entry = self._request_tokens.get(refresh_token or "")
        if entry is None or entry.used:
            # [INVENTED] text for an unknown or reused request token.
            raise ApiError(fail_str("Request token is invalid or already used. Please login again.", "MA500"))
        if (self._clock() - entry.issued).total_seconds() > self._config.request_token_seconds:
            raise ApiError(
                fail_str("Entered OTP has been expired. Please regenerate a new one & enter the same.", "MA500")
            )

    def verify_totp(self, refresh_token: str, totp: str) -> Session:
        with self._lock:
            self._take_request_token(refresh_token)
            code = str(totp or "").strip()
            # TOTP codes come from the client's real clock, never the sandbox's injected one.
            valid = code.isdigit() and pyotp.TOTP(self.account.totp_secret).verify(code, for_time=time.time(), valid_window=1)
            if not valid:
                raise ApiError(fail_error_type("Please enter correct TOTP", "MA400", status=400, outcome="MA400 wrong TOTP"))
            self._request_tokens[refresh_token].used = True
            return self._open_session()

    def verify_otp(self, refresh_token: str, otp: str) -> Session:
        with self._lock:
            self._take_request_token(refresh_token)
            if self.account.otp is None or str(otp or "").strip() != self.account.otp:
                # [INVENTED] text for a wrong (not expired) OTP.
                raise ApiError(fail_str("Invalid OTP. Please enter the correct OTP.", "MA500", outcome="MA500 wrong OTP"))
            self._request_tokens[refresh_token].used = True
            return self._open_session()

    def issue_session(self) -> Session:
        """A logged-in session without the HTTP dance (test shortcut)."""
        with self._lock:
            return self._open_session()

    def _open_session(self) -> Session:
        issued = self._clock()
        expires = next_midnight(issued)
        if self._config.session_max_hours:
            expires = min(expires, issued + timedelta(hours=self._config.session_max_hours))
        session = Session(
            access_token=self._jwt("AGL", issued, expires, 900),
            feed_token=self._jwt("FEED", issued, expires, 40),
            refresh_token=self._jwt("REFRESH", issued, expires, 40),
            client_code=self.account.client_code,
            issued=issued,
            expires=expires,
        )
        self._sessions[session.access_token] = session
        return session

    def _jwt(self, kind: str, issued: datetime, expires: datetime, padding: int) -> str:
        """An HS256 JWT signed with this server's random key (real tokens are long JWTs, spec 2.2)."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {
            "USERNAME": self.account.client_code,
            "APITYPE": kind,
            "nbf": int(issued.timestamp()),
            "iat": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
            "SID": secrets.token_urlsafe(padding),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64(hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    # ------------------------------------------------------------------ checks

    def api_key_ok(self, api_key: str | None) -> bool:
        return bool(api_key) and hmac.compare_digest(api_key.encode(), self.account.api_key.encode())

    def session_for(self, bearer: str | None) -> Session | None:
        """The live session of a bearer token, or None (unknown, logged out or expired)."""
        if not bearer:
            return None
        with self._lock:
            session = self._sessions.get(bearer)
            if session is None or not session.active:
                return None
            if self._clock() >= session.expires:
                session.active = False
                return None
            return session

    def check_feed_credentials(self, api_key: str, access_token: str) -> bool:
        return self.api_key_ok(api_key) and self.session_for(access_token) is not None

    def logout(self, session: Session) -> None:
        with self._lock:
            session.active = False

    def expire(self, session: Session | None = None) -> None:
        """End one session, or every session, as if the day had rolled over."""
        with self._lock:
            targets = [session] if session is not None else list(self._sessions.values())
            for target in targets:
                target.active = False

    def active_sessions(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for s in self._sessions.values() if s.active and now < s.expires)
