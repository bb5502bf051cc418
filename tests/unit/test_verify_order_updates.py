"""The in-host order-update checks' own guards (the checks themselves run inside OpenAlgo)."""

from __future__ import annotations

import pytest

from mstock_tools import verify_order_updates as checks


@pytest.mark.parametrize("url", ["ws://10.0.0.5:8765", "http://example.com", "ws://[2001:db8::1]:80", "nonsense"])
def test_only_loopback_addresses_are_used(url):
    with pytest.raises(checks.CheckFailed, match="loopback"):
        checks._loopback(url)


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8765", "http://localhost:5000", "ws://[::1]:1"])
def test_loopback_addresses_pass(url):
    assert checks._loopback(url) == url


def test_the_api_key_stays_out_of_the_repr():
    target = checks.InHost(sandbox=None, base_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:2", api_key="k" * 64)
    assert "k" * 64 not in repr(target)


def test_a_late_event_fails_with_its_latency():
    received = checks.Received(at=101.7, message={})
    assert checks._within("open", received, changed=101.0, limit=1.0) == pytest.approx(0.7)
    with pytest.raises(checks.CheckFailed, match=r"open: the event came 1.70 s after the sandbox's change \(limit 1 s\)"):
        checks._within("open", received, changed=100.0, limit=1.0)


def test_polling_runs_last_and_names_fit_verifys_column():
    assert [fn for _, fn in checks.CHECKS] == [checks.check_push, checks.check_disconnect, checks.check_polling]
    assert max(len(name) for name, _ in checks.CHECKS) <= 50
