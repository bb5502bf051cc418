"""The sandbox's login, credential checks and session lifetime, over real HTTP (spec 3, 1.2)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest
import requests

from broker.mstock.api.auth_api import authenticate_with_totp
from broker.mstock.errors import ApiKeyRejected, BackOfficeError, InputRejected, SessionExpired
from mstock_sandbox import SandboxConfig, SandboxServer
from mstock_sandbox.clock import IST
from mstock_sandbox.master import generate_master

from .conftest import make_client

pytestmark = pytest.mark.e2e


def _request_token(sandbox: SandboxServer) -> str:
    client = make_client(sandbox, None)
    account = sandbox.account
    body = {"clientcode": account.client_code, "password": account.password, "totp": "", "state": ""}
    return client.call("auth.login", json=body)["jwtToken"]


def test_totp_login_gives_a_working_session(sandbox):
    token, feed, error = authenticate_with_totp(sandbox.account.password, pyotp.TOTP(sandbox.account.totp_secret).now())

    assert error is None
    assert token.count(".") == 2 and feed
    funds = make_client(sandbox, token).call("user.funds")
    assert funds[0]["AVAILABLE_BALANCE"] == "1000000.00"


def test_login_reply_is_the_documented_string_status_envelope(sandbox):
    reply = make_client(sandbox, None).call(
        "auth.login", json={"clientcode": sandbox.account.client_code, "password": sandbox.account.password,
                            "totp": "", "state": ""}, full=True,
    )

    assert reply.message.startswith("Please enter the OTP")
    assert reply.data["state"] == "live" and len(reply.data["jwtToken"]) == 36


def test_wrong_password_counts_down_the_attempts(sandbox):
    client = make_client(sandbox, None)
    body = {"clientcode": sandbox.account.client_code, "password": "wrong", "totp": "", "state": ""}
    messages = []
    for _ in range(2):
        with pytest.raises(BackOfficeError) as caught:
            client.call("auth.login", json=body)
        messages.append((caught.value.code, caught.value.message))

    assert messages == [
        ("MA500", "Invalid username or password. 9 attempts remaining"),
        ("MA500", "Invalid username or password. 8 attempts remaining"),
    ]


def test_missing_password_is_a_bare_400(sandbox):
    client = make_client(sandbox, None)
    with pytest.raises(InputRejected) as caught:
        client.call("auth.login", json={"clientcode": sandbox.account.client_code, "password": "", "totp": "", "state": ""})
    assert (caught.value.http_status, caught.value.code) == (400, "400")


def test_wrong_totp_is_ma400_with_http_400(sandbox):
    request_token = _request_token(sandbox)
    client = make_client(sandbox, None)
    with pytest.raises(BackOfficeError) as caught:
        client.call("auth.verify_totp", json={"refreshToken": request_token, "totp": "000000"})
    assert (caught.value.http_status, caught.value.code, caught.value.message) == (400, "MA400", "Please enter correct TOTP")


def test_otp_path_opens_a_session_and_request_tokens_are_single_use(sandbox):
    request_token = _request_token(sandbox)
    client = make_client(sandbox, None)

    data = client.call("auth.session_token", json={"refreshToken": request_token, "otp": sandbox.account.otp})
    assert make_client(sandbox, data["jwtToken"]).call("orders.list") is None

    with pytest.raises(BackOfficeError):
        client.call("auth.session_token", json={"refreshToken": request_token, "otp": sandbox.account.otp})


def test_missing_version_header_is_a_version_exception(sandbox, sandbox_token):
    response = requests.get(
        f"{sandbox.base_url}/openapi/typeb/orders",
        headers={"X-PrivateKey": sandbox.account.api_key, "Authorization": f"Bearer {sandbox_token}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json() == {"status": "error", "message": "Please provide valid api version.",
                               "error_type": "VersionException", "data": None}


def test_wrong_api_key_is_ia403(sandbox, sandbox_token):
    client = make_client(sandbox, sandbox_token)
    client.api_key = "not-the-key"
    with pytest.raises(ApiKeyRejected) as caught:
        client.call("orders.list")
    assert (caught.value.http_status, caught.value.code) == (403, "IA403")


def test_unknown_bearer_is_ia401(sandbox):
    with pytest.raises(SessionExpired) as caught:
        make_client(sandbox, "eyJhbGciOiJIUzI1NiJ9.e30.forged").call("portfolio.positions")
    assert (caught.value.http_status, caught.value.code) == (401, "IA401")


def test_logout_ends_the_session(sandbox, sandbox_client):
    sandbox_client.call("auth.logout")
    with pytest.raises(SessionExpired):
        sandbox_client.call("orders.list")


def test_intraday_401_uses_its_own_boolean_envelope(sandbox):
    response = requests.post(
        f"{sandbox.base_url}/openapi/typeb/instruments/intraday",
        json={"exchange": "1", "symboltoken": "3045", "interval": "ONE_MINUTE"},
        headers={"X-Mirae-Version": "1", "X-PrivateKey": sandbox.account.api_key, "Authorization": "Bearer nope"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json() == {"status": False, "message": "Incorrect auth. Please try again.",
                               "errorcode": "IA401", "data": None}


def test_tokens_expire_at_ist_midnight():
    now = [datetime(2025, 1, 15, 22, 0, tzinfo=IST)]
    config = SandboxConfig(port=0, clock=lambda: now[0], start_feed=False,
                           master_rows=generate_master(0, today=now[0].date()))
    with SandboxServer(config) as server:
        session = server.issue_session()
        client = make_client(server, session.access_token)
        assert client.call("orders.list") is None
        now[0] += timedelta(hours=2, minutes=1)  # 00:01 the next day
        with pytest.raises(SessionExpired):
            client.call("orders.list")
        assert session.expires == datetime(2025, 1, 16, 0, 0, tzinfo=IST)


def test_otp_expires_with_its_request_token():
    now = [datetime(2025, 1, 15, 10, 0, tzinfo=IST)]
    config = SandboxConfig(port=0, clock=lambda: now[0], start_feed=False,
                           master_rows=generate_master(0, today=now[0].date()))
    with SandboxServer(config) as server:
        request_token = _request_token(server)
        now[0] += timedelta(seconds=config.request_token_seconds + 1)
        with pytest.raises(BackOfficeError) as caught:
            make_client(server, None).call("auth.session_token", json={"refreshToken": request_token, "otp": "123456"})
    assert caught.value.message == "Entered OTP has been expired. Please regenerate a new one & enter the same."


def test_account_locks_after_the_allowed_attempts(sandbox):
    client = make_client(sandbox, None)
    wrong = {"clientcode": sandbox.account.client_code, "password": "wrong", "totp": "", "state": ""}
    for _ in range(sandbox.config.login_attempts):
        with pytest.raises(BackOfficeError):
            client.call("auth.login", json=wrong)
    right = {**wrong, "password": sandbox.account.password}
    with pytest.raises(BackOfficeError) as caught:
        client.call("auth.login", json=right)
    assert "locked" in caught.value.message
