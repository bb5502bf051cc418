"""``mstock-openalgo sandbox`` / ``python -m mstock_sandbox``: run the sandbox until Ctrl-C.

Writes the ``.env`` lines that point the plugin at it (base URL, feed URL and the sandbox
account's client code, API key, password and TOTP secret) to a file readable only by its
owner, and prints that file's path with the secret-named values masked: even fake
credentials stay out of terminals and CI logs, like real ones. Then one line per request
as the session log.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from broker.mstock.redact import MASK

DEFAULT_PORT = 8765
DEFAULT_ENV_FILE = Path("sandbox.env")
SECRET_NAMES = frozenset({"BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT}; 0 = any free port)")
    parser.add_argument("--ws-port", type=int, default=None, help="feed port (default: HTTP port + 1, or any when --port 0)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1, ::1 or localhost only)")
    parser.add_argument("--master-size", type=int, default=4000, help="rows in the generated instrument master")
    parser.add_argument("--log", type=Path, default=None, help="also append the session log to this file")
    parser.add_argument("--env-out", type=Path, default=DEFAULT_ENV_FILE,
                        help=f"write the sandbox's .env lines here, mode 0600 (default ./{DEFAULT_ENV_FILE})")
    parser.add_argument("--real-hours", action="store_true",
                        help="trade Mon-Fri 09:15-15:30 IST only (default: a session every day, full data at night)")
    parser.add_argument("--no-rate-limits", action="store_true", help="do not enforce the documented rate limits")
    parser.add_argument("--quiet", action="store_true", help="do not print the session log")
    parser.add_argument("--tick", type=float, default=1.0,
                        help="seconds between market random-walk steps (0 = prices move only when orders need them)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the embedded mStock Type B sandbox on this machine",
        description="Runs a local, stateful mStock Type B server (REST + market feed) for demos and tests.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from . import SandboxConfig, SandboxServer

    if args.ws_port is None:
        ws_port = args.port + 1 if args.port else 0
    else:
        ws_port = args.ws_port
    config = SandboxConfig(
        host=args.host,
        port=args.port,
        feed_port=ws_port,
        master_size=args.master_size,
        log_file=args.log,
        always_open=not args.real_hours,
        enforce_rate_limits=not args.no_rate_limits,
    )
    try:
        server = SandboxServer(config, feed_options={"tick_market": args.tick > 0, "publish_interval": args.tick or 0.5})
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        server.log.echo = print
    server.start()
    env = {**server.env(), "MSTOCK_OTP": server.account.otp}
    write_env_file(args.env_out, env)
    print(f"mStock Type B sandbox is running. Its .env lines (fake, local values) are in {args.env_out} (mode 0600):\n")
    for line in masked_env_lines(env):
        print(f"  {line}")
    print(f"\nUse them with: mstock-openalgo --env-file {args.env_out} login")
    print("Press Ctrl-C to stop.\n")
    stop = threading.Event()
    ticker = None
    if args.tick > 0 and server.feed is None:
        def walk() -> None:
            while not stop.wait(args.tick):
                server.state.market.tick()
        ticker = threading.Thread(target=walk, name="sandbox-ticker", daemon=True)
        ticker.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping the sandbox", flush=True)
        stop.set()
        server.stop()
    return 0


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``NAME=value`` lines, creating the file with mode 0600 (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file already existed with wider permissions
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{name}={value}\n" for name, value in env.items()))


def masked_env_lines(env: Mapping[str, str]) -> list[str]:
    """The ``.env`` lines for a terminal: secret-named values masked, with their length."""
    lines = []
    for name, value in env.items():
        if name in SECRET_NAMES or name.endswith("_OTP"):
            lines.append(f"{name}={MASK} ({len(value)} characters)")
        else:
            lines.append(f"{name}={value}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mstock_sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))
