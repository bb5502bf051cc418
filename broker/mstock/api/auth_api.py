"""OpenAlgo's login entry points for mStock (contract 1.1, 2.2).

OpenAlgo's mstock login route calls :func:`authenticate_with_totp` by name with the
password and the 6-digit code typed into its form, and expects
``(auth_token, feed_token, error_message)``: on failure ``(None, None, "<reason>")`` with
a non-empty reason, because the route checks only the message. The flows themselves are
in :mod:`broker.mstock.account.login`.
"""

from __future__ import annotations

from ..account import login
from ..transport.client import get_client
from .boundary import AuthToken, returns_false_and_reason, returns_login_triple


@returns_login_triple
def authenticate_with_totp(password: str | None, totp: str | int | None):
    """Returns ``(auth_token, feed_token, None)``, or ``(None, None, message)`` on any failure.

    ``totp`` may be the 6-digit code or the base32 TOTP secret.
    """
    result = login.login_with_totp(str(password or ""), str(totp or ""))
    return result.access_token, result.feed_token, None


@returns_login_triple
def authenticate_broker(password: str | None, totp: str | int | None):
    """Required by OpenAlgo's plugin loader (contract 1.1); same as :func:`authenticate_with_totp`.

    OpenAlgo's mstock route calls ``authenticate_with_totp`` directly; this name must
    exist for the callback route to be registered at all.
    """
    result = login.login_with_totp(str(password or ""), str(totp or ""))
    return result.access_token, result.feed_token, None


@returns_login_triple
def send_otp(password: str | None):
    """OTP accounts, step 1: trigger the OTP. Returns ``(request_token, message, error)``."""
    token, message = login.request_otp(str(password or ""))
    return token, message or "OTP sent", None


@returns_login_triple
def verify_otp(otp: str | int | None, request_token: str | None):
    """OTP accounts, step 2: returns ``(auth_token, feed_token, error)``."""
    result = login.login_with_otp(str(otp or ""), str(request_token or ""))
    return result.access_token, result.feed_token, None


@returns_false_and_reason
def logout(auth: AuthToken):
    """Invalidate the mStock session. Returns ``(True, None)`` or ``(False, reason)``."""
    login.logout(get_client(auth))
    return True, None
