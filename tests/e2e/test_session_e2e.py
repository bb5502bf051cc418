"""Login, funds, token check and logout over real HTTP against the sandbox."""

from __future__ import annotations

import pyotp

from broker.mstock.api import auth_api, funds
from broker.mstock.cli import main
from mstock_sandbox import SANDBOX_ACCOUNT


def test_totp_login_funds_and_logout(sandbox):
    code = pyotp.TOTP(SANDBOX_ACCOUNT.totp_secret).now()
    token, feed, error = auth_api.authenticate_with_totp(SANDBOX_ACCOUNT.password, code)
    assert error is None
    assert token and feed
    cash = funds.get_margin_data(token)
    assert cash["availablecash"] == "1000000.00"
    assert funds.test_auth_token(token) == (True, None)
    assert auth_api.logout(token) == (True, None)
    # A logged-out token is dead: funds report it the way OpenAlgo detects it.
    assert funds.get_margin_data(token) == {}
    assert funds.test_auth_token(token)[0] is False


def test_wrong_password_and_wrong_totp_over_http(sandbox, monkeypatch):
    monkeypatch.delenv("MSTOCK_TOTP_SECRET")
    assert auth_api.authenticate_with_totp("not-the-password", "123456")[2].startswith(
        "wrong client code or password: Invalid username or password."
    )
    stale = pyotp.TOTP(SANDBOX_ACCOUNT.totp_secret).at(0)
    assert auth_api.authenticate_with_totp(SANDBOX_ACCOUNT.password, stale)[2] == (
        "wrong TOTP code: check the authenticator's clock and enter the current 6-digit code"
    )


def test_pasted_totp_secret_logs_in(sandbox):
    token, _, error = auth_api.authenticate_with_totp(SANDBOX_ACCOUNT.password, SANDBOX_ACCOUNT.totp_secret)
    assert error is None and token


def test_otp_flow(sandbox):
    request_token, message, error = auth_api.send_otp(SANDBOX_ACCOUNT.password)
    assert error is None and request_token
    token, feed, error = auth_api.verify_otp(SANDBOX_ACCOUNT.otp, request_token)
    assert error is None and token


def test_expired_session_is_detected(sandbox):
    code = pyotp.TOTP(SANDBOX_ACCOUNT.totp_secret).now()
    token = auth_api.authenticate_with_totp(SANDBOX_ACCOUNT.password, code)[0]
    sandbox.faults.inject("user.funds", "expire_session")
    assert funds.get_margin_data(token) == {}


def test_cli_login_funds_logout(sandbox, capsys):
    assert main(["login"]) == 0
    assert main(["funds"]) == 0
    out = capsys.readouterr().out
    assert "1000000.00" in out
    assert main(["logout"]) == 0
    assert main(["funds"]) == 1
