"""The README's main command, run as a test: every step must pass on the sandbox."""

from __future__ import annotations

from broker.mstock.orders import reconcile
from mstock_tools.demo import DemoContext, run_demo, run_steps


def test_demo_runs_every_step_on_the_embedded_sandbox():
    lines: list[str] = []
    assert run_demo(master_size=3000, out=lines.append) == 0
    text = "\n".join(lines)
    assert "demo OK: 10 steps" in text
    for heading in ("Log in", "Download the master contract", "Funds", "Quotes", "Place LIMIT, MARKET and SL orders",
                    "Smart order", "Order book", "Close all positions", "Log out"):
        assert f"== {heading}" in text
    assert "FAILED" not in text


def test_demo_exits_non_zero_when_a_step_fails(sandbox, monkeypatch):
    monkeypatch.setattr(reconcile, "_sleep", lambda seconds: None)  # each lost place reads the book at once
    sandbox.faults.inject("orders.place", "http_error", status=500, times=None)
    lines: list[str] = []
    assert run_steps(DemoContext(live=False, place_orders=True, out=lines.append)) == 1
    text = "\n".join(lines)
    assert "demo FAILED" in text
    assert "Place LIMIT, MARKET and SL orders: AssertionError: limit order failed" in text
