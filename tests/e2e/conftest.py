"""End-to-end fixtures: one embedded mStock sandbox per test session, clean for every test.

* ``sandbox_server`` (session): a running :class:`~mstock_sandbox.SandboxServer` on an
  ephemeral 127.0.0.1 port (rate limits off, so tests do not pace; a test that wants them
  calls ``sandbox.set_rate_limits(True)``).
* ``sandbox`` (function): the same server, reset to the start of the day (no sessions,
  orders, positions, faults or limiter history), with ``MSTOCK_BASE_URL``,
  ``MSTOCK_WS_URL``, ``BROKER_API_KEY``, ``BROKER_API_SECRET``, ``MSTOCK_PASSWORD`` and
  ``MSTOCK_TOTP_SECRET`` pointing at it. It runs after ``tests/conftest.py``'s autouse
  isolation, which installs the ``Unlimited`` client-side limiter.
* ``sandbox_token``: an access token of a session opened without the login calls.
* ``sandbox_client``: an :class:`~broker.mstock.transport.client.MStockClient` on that token that
  never sleeps between retries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from broker.mstock.transport.client import MStockClient
from mstock_sandbox import SandboxConfig, SandboxServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxConfig(port=0, master_size=4000, enforce_rate_limits=False)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, isolated_environment, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    sandbox_server.reset()
    for name, value in sandbox_server.env().items():
        monkeypatch.setenv(name, value)
    yield sandbox_server
    sandbox_server.faults.clear()


@pytest.fixture
def sandbox_token(sandbox: SandboxServer) -> str:
    return sandbox.issue_session().access_token


def make_client(server: SandboxServer, token: str | None, **options) -> MStockClient:
    """A client for ``server`` that never waits between retries."""
    options.setdefault("sleep", lambda seconds: None)
    return MStockClient(token, api_key=server.account.api_key, base_url=server.base_url, **options)


@pytest.fixture
def sandbox_client(sandbox: SandboxServer, sandbox_token: str) -> Iterator[MStockClient]:
    client = make_client(sandbox, sandbox_token)
    yield client
    client.close()


def pin_price(server: SandboxServer, token: str, exchange: str = "NSE") -> float:
    """Trade ``token`` at its previous close now and return that price.

    Today's LTP depends on the time of day; the price band (+/-10 %) is around the
    previous close, so tests that need a resting order price relative to this.
    """
    snap = server.state.market.snapshot(token, exchange)
    assert snap is not None, f"sandbox has no {exchange} token {token}"
    return server.state.market.set_ltp(token, snap.close, exchange).ltp


def off_ltp(price: float, fraction: float, tick: float = 0.05) -> str:
    """``price * (1 + fraction)`` on the tick, as the string a client would send."""
    return f"{round(round(price * (1 + fraction) / tick) * tick, 2):.2f}"
