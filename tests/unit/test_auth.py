"""Login flows: TOTP, OTP, wrong password, wrong TOTP, expired API key, TOTP rollover."""

from __future__ import annotations

import os
import stat

import pyotp
import pytest
import requests
from responses import matchers

from broker.mstock.account import session
from broker.mstock.api import auth_api
from broker.mstock.errors import MStockError, SessionExpired
from broker.mstock.local import session_file as session_store

from ..helpers import (
    ACCESS_TOKEN,
    API_KEY,
    CLIENT_CODE,
    FEED_TOKEN,
    PASSWORD,
    REQUEST_TOKEN,
    TOTP_SECRET,
    add_route,
    freeze_totp_clock,
    sent_json,
)


def test_totp_login_returns_trading_and_feed_tokens(mock_api):
    add_route(
        mock_api,
        "auth.login",
        case="ok",
        match=[matchers.json_params_matcher({"clientcode": CLIENT_CODE, "password": PASSWORD, "totp": "", "state": ""})],
    )
    add_route(
        mock_api,
        "auth.verify_totp",
        case="ok",
        match=[
            matchers.json_params_matcher({"refreshToken": REQUEST_TOKEN, "totp": "123456"}),
            matchers.header_matcher({"X-PrivateKey": API_KEY, "X-Mirae-Version": "1"}),
        ],
    )
    assert auth_api.authenticate_with_totp(PASSWORD, "123456") == (ACCESS_TOKEN, FEED_TOKEN, None)


def test_login_sends_an_empty_totp_in_step_one(mock_api):
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    auth_api.authenticate_with_totp(PASSWORD, "654321")
    assert sent_json(mock_api.calls[0])["totp"] == ""


def test_base32_secret_instead_of_a_code_is_turned_into_the_current_code(mock_api, monkeypatch):
    freeze_totp_clock(monkeypatch)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    token, _, error = auth_api.authenticate_with_totp(PASSWORD, TOTP_SECRET.lower())
    assert (token, error) == (ACCESS_TOKEN, None)
    assert sent_json(mock_api.calls[1])["totp"] == pyotp.TOTP(TOTP_SECRET).now()


def test_wrong_password_reports_attempts_left(mock_api):
    add_route(mock_api, "auth.login", case="wrong_password")
    token, feed, error = auth_api.authenticate_with_totp("nope", "123456")
    assert (token, feed) == (None, None)
    assert error == "wrong client code or password: Invalid username or password. 9 attempts remaining [MA500]"


def test_invalid_client_code_format(mock_api):
    add_route(mock_api, "auth.login", case="invalid_input", status=400)
    assert auth_api.authenticate_with_totp(PASSWORD, "123456")[2] == (
        "mStock rejected the client code or password: Please provide valid clientcode and password. [400]"
    )


def test_mistyped_totp_is_not_retried_even_with_a_secret(mock_api, monkeypatch):
    monkeypatch.setenv("MSTOCK_TOTP_SECRET", TOTP_SECRET)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="wrong_totp", status=400)
    wrong = pyotp.TOTP(TOTP_SECRET).at(0)  # not this window's nor the previous one's
    assert auth_api.authenticate_with_totp(PASSWORD, wrong)[2].startswith("wrong TOTP code")
    assert len(mock_api.calls) == 2


def test_wrong_totp_without_a_secret_is_reported(mock_api):
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="wrong_totp", status=400)
    assert auth_api.authenticate_with_totp(PASSWORD, "000000") == (
        None,
        None,
        "wrong TOTP code: check the authenticator's clock and enter the current 6-digit code",
    )
    assert len(mock_api.calls) == 2


def test_totp_rollover_retries_once_with_a_fresh_code(mock_api, monkeypatch):
    # The clock is frozen: a real 30 s boundary passing mid-test would change "now".
    now = freeze_totp_clock(monkeypatch)
    monkeypatch.setenv("MSTOCK_TOTP_SECRET", TOTP_SECRET)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="wrong_totp", status=400)
    add_route(mock_api, "auth.verify_totp", case="ok")
    stale = pyotp.TOTP(TOTP_SECRET).at(now - 30)
    fresh = pyotp.TOTP(TOTP_SECRET).at(now)
    assert stale != fresh
    assert auth_api.authenticate_with_totp(PASSWORD, stale) == (ACCESS_TOKEN, FEED_TOKEN, None)
    assert [sent_json(c)["totp"] for c in mock_api.calls[1:]] == [stale, fresh]


def test_expired_api_key_is_explained(mock_api):
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="api_key_expired", status=403)
    error = auth_api.authenticate_with_totp(PASSWORD, "123456")[2]
    assert error.startswith("mStock API key rejected (expired, suspended or wrong BROKER_API_SECRET)")


def test_ip_not_whitelisted_is_explained(mock_api):
    add_route(
        mock_api,
        "auth.login",
        {"status": False, "errorcode": "IA403", "message": "Primary and Secondary IP Address are not matching with current IP address."},
        status=403,
    )
    error = auth_api.authenticate_with_totp(PASSWORD, "123456")[2]
    assert error.startswith("mStock refused this machine's IP address")


def test_network_down_is_a_specific_message(mock_api):
    add_route(mock_api, "auth.login", requests.ConnectTimeout("connect timed out"))
    error = auth_api.authenticate_with_totp(PASSWORD, "123456")[2]
    assert error.startswith("could not reach mStock, try again")


@pytest.mark.parametrize(("password", "totp", "message"), [("", "123456", "Password is required."), (PASSWORD, "", "TOTP code is required.")])
def test_missing_form_fields(password, totp, message, mock_api):
    assert auth_api.authenticate_with_totp(password, totp) == (None, None, message)
    assert len(mock_api.calls) == 0


def test_garbage_totp_is_rejected_before_sending(mock_api):
    error = auth_api.authenticate_with_totp(PASSWORD, "12ab")[2]
    assert error == "mStock login failed: TOTP must be the 6-digit code from your authenticator (or the base32 TOTP secret)"
    assert len(mock_api.calls) == 0


def test_missing_client_code_names_the_variable(mock_api, monkeypatch):
    monkeypatch.delenv("BROKER_API_KEY")
    error = auth_api.authenticate_with_totp(PASSWORD, "123456")[2]
    assert "BROKER_API_KEY" in error
    assert len(mock_api.calls) == 0


def test_otp_flow(mock_api):
    add_route(mock_api, "auth.login", case="ok")
    add_route(
        mock_api,
        "auth.session_token",
        case="ok",
        match=[matchers.json_params_matcher({"refreshToken": REQUEST_TOKEN, "otp": "123456"})],
    )
    request_token, message, error = auth_api.send_otp(PASSWORD)
    assert (request_token, error) == (REQUEST_TOKEN, None)
    assert message.startswith("Please enter the OTP")
    assert auth_api.verify_otp("123456", request_token) == (ACCESS_TOKEN, FEED_TOKEN, None)


def test_expired_otp(mock_api):
    add_route(mock_api, "auth.session_token", case="otp_expired")
    assert auth_api.verify_otp("123456", REQUEST_TOKEN) == (
        None,
        None,
        "OTP rejected: Entered OTP has been expired. Please regenerate a new one & enter the same. [MA500]",
    )


def test_authenticate_broker_is_the_same_flow(mock_api):
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    assert auth_api.authenticate_broker(PASSWORD, "123456") == (ACCESS_TOKEN, FEED_TOKEN, None)


def test_logout_calls_mstock(mock_api):
    add_route(mock_api, "auth.logout", case="ok")
    assert auth_api.logout(ACCESS_TOKEN) == (True, None)
    assert mock_api.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_logout_of_an_expired_session_succeeds(mock_api):
    add_route(mock_api, "auth.logout", case="expired", status=401)
    assert auth_api.logout(ACCESS_TOKEN) == (True, None)


def _headless_env(monkeypatch, password: str = PASSWORD) -> None:
    monkeypatch.setenv("MSTOCK_PASSWORD", password)
    monkeypatch.setenv("MSTOCK_TOTP_SECRET", TOTP_SECRET)


def test_headless_login_saves_a_private_session_and_reuses_it_while_alive(mock_api, monkeypatch, tmp_path):
    _headless_env(monkeypatch)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    add_route(mock_api, "user.funds", case="ok")
    first = session.login_headless()
    second = session.login_headless()
    assert (first.reused, second.reused) == (False, True)
    assert first.session == second.session
    # One login, then one authenticated read to check the saved session is alive.
    assert [c.request.url.rsplit("/", 2)[-2:] for c in mock_api.calls] == [
        ["connect", "login"], ["session", "verifytotp"], ["user", "fundsummary"]
    ]
    path = tmp_path / "session.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert session.current_auth_token() == ACCESS_TOKEN
    assert first.session.client_name == "RAHUL KUMAR"
    text = path.read_text()
    for secret in (PASSWORD, TOTP_SECRET, API_KEY):
        assert secret not in text


def test_login_logs_in_again_when_mstock_has_ended_the_saved_session(mock_api, monkeypatch, tmp_path):
    _headless_env(monkeypatch)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    session.login_headless()
    add_route(mock_api, "user.funds", case="expired", status=401)
    again = session.login_headless()
    assert again.reused is False
    assert [c.request.url.rsplit("/", 1)[-1] for c in mock_api.calls] == [
        "login", "verifytotp", "fundsummary", "login", "verifytotp"
    ]


def test_a_wrong_password_never_succeeds_with_the_saved_session(mock_api, monkeypatch):
    _headless_env(monkeypatch)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    session.login_headless()
    mock_api.reset()
    _headless_env(monkeypatch, password="not-the-password")
    add_route(mock_api, "auth.login", case="wrong_password", status=401)
    with pytest.raises(MStockError) as caught:
        session.login_headless()
    assert "Invalid username or password" in str(caught.value)
    assert len(mock_api.calls) == 1  # it really tried the password; no funds call, no reuse


def test_a_session_file_without_a_credential_fingerprint_is_not_reused(mock_api, monkeypatch, tmp_path):
    _headless_env(monkeypatch)
    old = session_store.new_session("tok-old-0123456789", None, client_code=CLIENT_CODE, base_url="https://api.mstock.trade")
    session_store.save(tmp_path / "session.json", old)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    assert session.login_headless().reused is False
    assert session.current_auth_token() == ACCESS_TOKEN


def test_current_token_explains_an_expired_saved_session(tmp_path):
    from datetime import datetime, timedelta

    from broker.mstock.clock import IST

    yesterday = datetime.now(IST) - timedelta(days=1)
    old = session_store.new_session("tok-old-0123456789", None, client_code=CLIENT_CODE,
                                    base_url="https://api.mstock.trade", now=yesterday)
    session_store.save(tmp_path / "session.json", old)
    with pytest.raises(SessionExpired) as caught:
        session.current_auth_token()
    assert str(caught.value) == (
        "the mStock session has expired (mStock sessions end at midnight IST): "
        "log in again with `mstock-openalgo login`"
    )


def test_headless_login_names_missing_variables(monkeypatch):
    with pytest.raises(Exception) as caught:
        session.login_headless()
    assert "MSTOCK_PASSWORD" in str(caught.value)
    assert "MSTOCK_TOTP_SECRET" in str(caught.value)


def test_current_token_without_a_session_says_what_to_do():
    with pytest.raises(SessionExpired) as caught:
        session.current_auth_token()
    assert "mstock-openalgo login" in str(caught.value)
