"""verify's order-update checks: their guards and their place in the list (the checks
themselves run inside OpenAlgo: ``mstock-openalgo verify``, ``tests/inhost``)."""

from __future__ import annotations

import pytest

from mstock_tools.verify import checks, order_updates
from mstock_tools.verify.client import CheckFailed


def test_a_late_event_fails_with_its_latency():
    received = order_updates.Received(at=101.7, message={})
    assert order_updates.within("open", received, changed=101.0, limit=1.0) == pytest.approx(0.7)
    with pytest.raises(CheckFailed, match=r"open: the event came 1.70 s after the sandbox's change \(limit 1 s\)"):
        order_updates.within("open", received, changed=100.0, limit=1.0)


def test_the_checks_run_after_the_orders_and_polling_last_of_them():
    names = [c.name for c in checks.CHECKS]
    ours = [n for n in names if n.startswith("order updates:")]
    assert ours == ["order updates: open, complete, rejected in 1 s", "order updates: a disconnect loses/repeats nothing",
                    "order updates: polling, second socket refused"]
    assert names.index(ours[0]) > names.index("funds after orders")
    assert names.index(ours[-1]) + 1 == names.index("cancelallorder")
    assert max(len(n) for n in ours) <= 50  # verify's name column


def test_the_order_socket_refuses_a_remote_address():
    from mstock_tools.verify.stack import StackError

    with pytest.raises(StackError, match="loopback"):
        order_updates.OrderSocket("ws://10.0.0.5:8765", "key")
