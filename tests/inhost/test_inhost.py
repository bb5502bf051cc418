"""Every verify check as one test, in the verify order, against one booted OpenAlgo."""

from __future__ import annotations

import pytest

from broker.mstock.redact import redact
from mstock_tools.verify.checks import CHECKS, Check, run_one

from .conftest import checkout_listing


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_check(inhost, check: Check) -> None:
    if check.browser and inhost.browser_missing:
        pytest.skip(inhost.browser_missing)
    result = run_one(check, inhost.ctx, inhost.passed, redact)
    if result.status == "skip":
        pytest.skip(f"an earlier check did not pass ({result.detail})")
    if result.status == "FAIL":
        pytest.fail(result.detail, pytrace=False)


def test_the_users_checkout_is_untouched(inhost) -> None:
    assert checkout_listing(inhost.checkout) == inhost.listing_before


def test_every_address_is_loopback(inhost) -> None:
    urls = [inhost.stack.base_url, inhost.stack.ws_url, inhost.stack.sandbox.base_url, inhost.stack.sandbox.ws_url]
    assert [u.split("//")[1].split(":")[0] for u in urls] == ["127.0.0.1"] * 4
    env = (inhost.stack.copy / ".env").read_text(encoding="utf-8")
    for name in ("FLASK_HOST_IP", "WEBSOCKET_HOST", "ZMQ_HOST"):
        assert f"{name} = '127.0.0.1'" in env
