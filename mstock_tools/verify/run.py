"""``mstock-openalgo verify``: boot, run every check, print the table, stop everything."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from broker.mstock.redact import redact, register_secret

from .checks import Context, Result, run_one, select
from .client import OpenAlgoWeb
from .oracle import Oracle
from .stack import Stack, StackError, interrupt_on_signals

NAME_WIDTH = 50


def _row(name: str, result: str, seconds: float) -> str:
    return f"{name[:NAME_WIDTH]:<{NAME_WIDTH}}  {result:<6} {seconds:7.1f}"


def header() -> str:
    return f"{'check':<{NAME_WIDTH}}  {'result':<6} {'seconds':>7}\n{'-' * NAME_WIDTH}  {'-' * 6} {'-' * 7}"


def make_context(stack: Stack, out_dir: Path, *, browser: bool) -> Context:
    web = OpenAlgoWeb(stack.base_url)

    def open_browser():
        from .browser import Browser

        return Browser(stack.base_url, web.cookies(), out_dir)

    ctx = Context(oracle=Oracle(stack.sandbox), web=web, ws_url=stack.ws_url, out_dir=out_dir,
                  browser_factory=open_browser if browser else None)
    register_secret(ctx.password, *stack.secrets())
    return ctx


def _print_now(line: str) -> None:
    print(line, flush=True)  # one row at a time, also when piped into a log


def run_verify(
    openalgo_path: str,
    *,
    python: str | None = None,
    browser: bool = False,
    out: str | None = None,
    keep: bool = False,
    write: Callable[[str], None] | None = None,
) -> int:
    """Run every check against a throw-away copy of ``openalgo_path``; 0 only if all passed."""
    write = write or _print_now
    if browser:
        from .browser import BrowserUnavailable, find_binaries

        try:
            find_binaries()
        except BrowserUnavailable as exc:
            write(f"error: --browser: {exc}")
            return 2
    restore_signals = interrupt_on_signals()
    stack = Stack(Path(openalgo_path), python=python, keep=keep)
    results: list[Result] = []
    ctx: Context | None = None
    started = time.monotonic()
    write(f"Checking the mstock plugin inside {Path(openalgo_path).expanduser().absolute()} "
          "(a temporary copy, against the embedded mStock sandbox, on 127.0.0.1 only)\n")
    write(header())
    try:
        try:
            stack.boot()
        except StackError:
            pass
        finally:
            register_secret(*stack.secrets())  # a failed step may quote OpenAlgo's log
            for step in stack.steps:
                status = "FAIL" if step.error else "pass"
                results.append(Result(step.name, status, step.seconds, redact(step.error or "")))
                write(_row(step.name, status, step.seconds))
        if all(r.status == "pass" for r in results):
            assert stack.run_dir is not None
            out_dir = Path(out).expanduser().absolute() if out else stack.run_dir / "screenshots"
            ctx = make_context(stack, out_dir, browser=browser)
            passed: set[str] = set()
            for check in select(browser=browser):
                result = run_one(check, ctx, passed, redact)
                results.append(result)
                write(_row(result.name, result.status, result.seconds))
    except KeyboardInterrupt:
        write("\ninterrupted: stopping everything verify started")
        results.append(Result("interrupted", "FAIL", 0.0, "stopped by a signal or Ctrl-C"))
    finally:
        if ctx is not None:
            ctx.close()
        stack.close()
        restore_signals()
    return _summary(results, stack, out=out, browser=browser, keep=keep, seconds=time.monotonic() - started, write=write)


def _summary(results: list[Result], stack: Stack, *, out: str | None, browser: bool, keep: bool, seconds: float,
             write: Callable[[str], None]) -> int:
    failed = [r for r in results if r.status == "FAIL"]
    skipped = [r for r in results if r.status == "skip"]
    passed = [r for r in results if r.status == "pass"]
    write(f"\n{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped in {seconds:.0f} s")
    for result in failed:
        write(f"\nFAIL {result.name}:\n  " + "\n  ".join(result.detail.splitlines() or ["(no detail)"]))
    for result in skipped:
        write(f"skip {result.name}: {result.detail}")
    if browser and out:
        write(f"\nScreenshots: {Path(out).expanduser().absolute()}")
    elif browser and keep and stack.run_dir is not None:
        write(f"\nScreenshots: {stack.run_dir / 'screenshots'}")
    if keep and stack.run_dir is not None:
        write(f"Kept the copy, its .env (sandbox credentials only) and the logs in {stack.run_dir}")
    elif failed and stack.run_dir is not None and not any(r.name == "interrupted" for r in failed):
        write("Run again with --keep to keep the OpenAlgo copy and its logs for a look.")
    return 0 if results and not failed and not skipped else 1


def main(args) -> int:
    try:
        return run_verify(args.openalgo_path, python=args.python, browser=args.browser, out=args.out, keep=args.keep)
    except BrokenPipeError:
        sys.stderr.close()
        return 1
