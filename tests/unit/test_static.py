"""pyflakes over the shipped code: an undefined name is a crash waiting for production.

Upstream's smart-order ``NameError`` (upstream-review D1) fired only after the order had
been sent; a static check would have caught it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pyflakes_api = pytest.importorskip("pyflakes.api")
from pyflakes.reporter import Reporter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["broker", "mstock_sandbox", "mstock_tools", "bench", "tests"])
def test_pyflakes_finds_nothing(package):
    out, err = io.StringIO(), io.StringIO()
    count = pyflakes_api.checkRecursive([str(ROOT / package)], Reporter(out, err))
    assert (count, out.getvalue(), err.getvalue()) == (0, "", "")
