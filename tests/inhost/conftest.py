"""The in-host layer: the verify checks as tests, inside a real OpenAlgo.

Runs only when ``OPENALGO_DIR`` points at an OpenAlgo checkout with its virtualenv
(``.venv`` or ``venv``; ``OPENALGO_PYTHON`` names another interpreter); otherwise every
test here is skipped with that reason, so the plain test command stays fast. OpenAlgo is
booted once per session (a throw-away copy, as ``mstock-openalgo verify`` does) and
stopped at the end. The browser checks run when Chromium, its driver and Selenium are
installed, and are skipped naming what is missing otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mstock_tools.verify.checks import Context
from mstock_tools.verify.run import make_context
from mstock_tools.verify.stack import Stack, StackError

SKIP_REASON = (
    "OPENALGO_DIR is not set: point it at an OpenAlgo checkout with its virtualenv "
    "to run the in-host checks (CI does)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/inhost/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.inhost)


def openalgo_dir() -> Path:
    value = os.environ.get("OPENALGO_DIR", "").strip()
    if not value:
        pytest.skip(SKIP_REASON)
    return Path(value).expanduser().absolute()


def checkout_listing(root: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime ns) of every file outside the virtualenvs and caches."""
    skip = {".venv", "venv", "__pycache__", ".git", "node_modules"}
    listing = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            path = Path(folder) / name
            stat = path.lstat()
            listing[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return listing


@dataclass
class InHost:
    stack: Stack
    ctx: Context
    browser_missing: str | None
    checkout: Path
    listing_before: dict[str, tuple[int, int]]
    passed: set[str] = field(default_factory=set)


@pytest.fixture(scope="session")
def inhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InHost]:
    checkout = openalgo_dir()
    from mstock_tools.verify.browser import BrowserUnavailable, find_binaries

    try:
        find_binaries()
        browser_missing = None
    except BrowserUnavailable as exc:
        browser_missing = str(exc)
    listing = checkout_listing(checkout)
    stack = Stack(checkout, python=os.environ.get("OPENALGO_PYTHON") or None)
    ctx = None
    try:
        try:
            stack.boot()
        except StackError as exc:
            pytest.fail(f"OpenAlgo did not boot: {exc}", pytrace=False)
        ctx = make_context(stack, tmp_path_factory.mktemp("screenshots"), browser=browser_missing is None)
        yield InHost(stack, ctx, browser_missing, checkout, listing)
    finally:
        if ctx is not None:
            ctx.close()
        stack.close()
