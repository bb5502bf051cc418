"""Secrets never reach log records, even at DEBUG, over a whole session."""

from __future__ import annotations

import logging

import pytest

from broker.mstock.account import login
from broker.mstock.api import auth_api, funds
from broker.mstock import redact as redact_module
from broker.mstock.redact import SecretFilter, mask_id, redact, register_secret

from ..helpers import (
    ACCESS_TOKEN,
    API_KEY,
    FEED_TOKEN,
    PASSWORD,
    REQUEST_TOKEN,
    TOTP_SECRET,
    add_route,
    freeze_totp_clock,
)

REFRESH_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJSRUZSRVNIIjoiMSJ9.c2lnbmF0dXJlLXJlZnJlc2g"


def test_full_session_at_debug_logs_no_secret(mock_api, caplog, monkeypatch):
    monkeypatch.setenv("MSTOCK_TOTP_SECRET", TOTP_SECRET)
    caplog.set_level(logging.DEBUG)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="wrong_totp", status=400)
    add_route(mock_api, "auth.verify_totp", case="ok")
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="null")  # funds take the day's P&L from here
    add_route(mock_api, "auth.logout", case="ok")

    import pyotp

    now = freeze_totp_clock(monkeypatch)  # a 30 s boundary mid-test must not change "now"
    code = pyotp.TOTP(TOTP_SECRET).at(now - 30)  # a stale code: forces the rollover retry
    token, feed, error = auth_api.authenticate_with_totp(PASSWORD, code)
    assert error is None
    funds.get_margin_data(token)
    logging.getLogger("broker.mstock.transport.client").debug(
        "headers Authorization: Bearer %s X-PrivateKey: %s body {\"password\": \"%s\", \"totp\": \"%s\"}",
        token, API_KEY, PASSWORD, code,
    )
    auth_api.logout(token)

    secrets = [ACCESS_TOKEN, FEED_TOKEN, REFRESH_TOKEN, API_KEY, PASSWORD, TOTP_SECRET, REQUEST_TOKEN, code]
    text = "\n".join(
        record.getMessage() + (record.exc_text or "") for record in caplog.records
    )
    assert caplog.records, "the session should have produced log records"
    for secret in secrets:
        assert secret not in text


def test_unregistered_jwt_and_header_shapes_are_masked():
    line = 'Authorization: Bearer abc.def.ghi X-PrivateKey: k3y@@ {"password": "hunter22"} ws://h/?API_KEY=zz&ACCESS_TOKEN=yy LOGIN:tok123'
    out = redact(line)
    for fragment in ("abc.def.ghi", "k3y@@", "hunter22", "zz&", "=yy", "tok123"):
        assert fragment not in out


def test_registered_secret_is_masked_anywhere():
    register_secret("MySecretValue99")
    assert redact("prefixMySecretValue99suffix") == "prefix***suffix"


def test_exception_text_in_a_record_is_masked():
    register_secret("tok-ABCDEFGH")
    logger = logging.getLogger("test.redaction")
    record = logger.makeRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise RuntimeError("token tok-ABCDEFGH leaked")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    SecretFilter().filter(record)
    assert "tok-ABCDEFGH" not in record.exc_text


def test_mask_id_keeps_only_the_ends():
    assert mask_id("MA6800001") == "MA*****01"
    assert mask_id(None) == "<unset>"


@pytest.mark.parametrize("obj", [login.LoginResult("eyJx.eyJy.sig", "feedtok1234"), login.totp_source("123456")])
def test_reprs_hide_secrets(obj):
    text = repr(obj)
    assert "eyJx.eyJy.sig" not in text
    assert "feedtok1234" not in text
    assert "123456" not in text


def test_the_registry_keeps_the_secrets_in_use_and_stays_bounded():
    api_key = "long-lived-api-key-Zk3x@"
    register_secret(api_key)
    for day in range(3 * redact_module.MAX_SECRETS):
        register_secret(f"token-of-day-{day:05d}", api_key)  # the key is registered with every use
    assert redact(f"key {api_key} today token-of-day-00767") == "key *** today ***"
    assert redact("old token-of-day-00000") == "old token-of-day-00000"
    assert len(redact_module._recent) == redact_module.MAX_SECRETS
