"""Test isolation: every test gets its own configuration, stores, limiter and secret registry.

No test needs credentials or a network: unit tests mock HTTP with ``responses`` (an
unregistered URL raises ``ConnectionError``), end-to-end tests talk to the embedded
sandbox on 127.0.0.1.
"""

from __future__ import annotations

import os

import pytest
import responses

from broker.mstock import config, host, redact
from broker.mstock.mapping import codes
from broker.mstock.market import quotes
from broker.mstock.orders import bulk, positions, reconcile
from broker.mstock.transport import client as client_module
from broker.mstock.transport import keepwarm, ratelimit

from .helpers import API_KEY, BASE_URL, CLIENT_CODE

# Shared fixtures of the unit-test support modules (``symbols``, ``fast_reconcile``,
# ``market``, ``feed_server``...), registered once instead of imported by name.
pytest_plugins = ("tests.unit.order_support", "tests.unit.feed_support")

_OUR_VARIABLES = ("BROKER_API_KEY", "BROKER_API_SECRET", "DATABASE_URL", "REDIRECT_URL")
# What the HTTP client reads when its session is made (a shell's proxy must not reroute
# the sandbox's loopback traffic; tests of these variables set their own).
_TRANSPORT_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("MSTOCK_") or name in _OUR_VARIABLES or name.upper() in _TRANSPORT_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BROKER_API_KEY", CLIENT_CODE)
    monkeypatch.setenv("BROKER_API_SECRET", API_KEY)
    monkeypatch.setenv("MSTOCK_BASE_URL", BASE_URL)
    monkeypatch.setenv("MSTOCK_HOST", "standalone")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'symbols.db'}")
    monkeypatch.setenv("MSTOCK_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # A developer's own .env must not leak into tests through the CLI's dotenv loading.
    monkeypatch.setattr(config, "_dotenv_loaded", True)
    # Unit tests must not sleep for the documented limits; tests of the limiter and the
    # end-to-end suite install their own.
    ratelimit.set_default_limiter(ratelimit.Unlimited())
    # No background pings behind a test's mocks; the keep-warm tests enable it themselves.
    keepwarm.set_enabled(False)
    positions.reset_for_tests()
    bulk.reset_for_tests()
    reconcile.reset_for_tests()
    codes.reset_unknown_log_for_tests()
    quotes.reset_for_tests()  # the quote mode and token cap learnt from earlier answers
    # Each test registers only its own secrets: the registry is one regular expression,
    # recompiled at every registration, and the whole suite's tokens made that take a
    # second per login by the end of a run (and let a test pass on another's registration).
    redact.forget_secrets_for_tests()
    yield
    positions.reset_for_tests()
    bulk.reset_for_tests()
    reconcile.reset_for_tests()
    quotes.reset_for_tests()
    client_module.reset_clients()
    host.reset_for_tests()
    ratelimit.set_default_limiter(None)
    keepwarm.set_enabled(True)
    redact.forget_secrets_for_tests()


@pytest.fixture
def mock_api():
    """A ``responses`` mock of the mStock API; unregistered requests fail loudly."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
