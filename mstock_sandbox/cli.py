"""``mstock-openalgo sandbox`` / ``python -m mstock_sandbox``: run the sandbox until Ctrl-C.

Writes the ``.env`` lines that point the plugin at it (base URL, feed URL, the sandbox
account's client code, API key, password and TOTP secret, and a symbol database and
session file of its own, so a sandbox session never replaces a live account's) to a file
readable only by its owner, and prints that file's path with the secret-named values
masked: even fake credentials stay out of terminals and CI logs, like real ones. Then
one line per request as the session log.

Every point mStock's documentation leaves open can be changed with a flag (quote cap,
FULL quote layout, history limits and labels, feed framing and encodings, order-tag
echo, rate-limit answer, index tokens, sockets per token), to see how a client copes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from broker.mstock.redact import MASK

from .config import (
    DEPTH_ORDERS,
    FEED_EPOCHS,
    FEED_FRAMINGS,
    FEED_SOCKET_POLICIES,
    HISTORY_OVER_LIMIT,
    HOURLY_LABELS,
    INDEX_SETS,
    ORDER_FRAME_SHAPES,
    QUOTE_FULL_LAYOUTS,
    RATE_LIMIT_SHAPES,
    parse_depth_side_flag,
)

# Clear of OpenAlgo's own defaults (Flask 5000, WebSocket proxy 8765, ZMQ 5555);
# 6785 spells MSTK on a phone keypad. The feed listens on the next port.
DEFAULT_PORT = 6785
DEFAULT_ENV_FILE = Path("sandbox.env")
SECRET_NAMES = frozenset({"BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET"})


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, not {text!r}") from None


def _port(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 (any free port) to 65535, not {value}")
    return value


def _positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _positive(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _depth_flag(text: str) -> tuple[int, int]:
    try:
        return parse_depth_side_flag(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=_port, default=None,
                        help=f"HTTP port (default {DEFAULT_PORT}, or a free one if that is taken; 0 = any free port)")
    parser.add_argument("--ws-port", type=_port, default=None, help="feed port (default: HTTP port + 1, or any when --port 0)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1, ::1 or localhost only)")
    parser.add_argument("--master-size", type=int, default=4000, help="rows in the generated instrument master")
    parser.add_argument("--log", type=Path, default=None, help="also append the session log to this file")
    parser.add_argument("--env-out", type=Path, default=DEFAULT_ENV_FILE,
                        help=f"write the sandbox's .env lines here, mode 0600 (default ./{DEFAULT_ENV_FILE})")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="symbol database and session file of the sandbox (default: NAME-data next to --env-out)")
    parser.add_argument("--real-hours", action="store_true",
                        help="trade Mon-Fri 09:15-15:30 IST only (default: a session every day, full data at night)")
    parser.add_argument("--quiet", action="store_true", help="do not print the session log")
    parser.add_argument("--tick", type=float, default=1.0,
                        help="seconds between market random-walk steps (0 = prices move only when orders need them)")

    net = parser.add_argument_group("network and rate limits")
    net.add_argument("--no-rate-limits", action="store_true", help="do not enforce the documented rate limits")
    net.add_argument("--strict-rate-limits", action="store_true",
                     help="count every rate-limit window exactly by arrival (default: a data second is 0.95 s)")
    net.add_argument("--rate-limit-shape", choices=RATE_LIMIT_SHAPES, default="http-429",
                     help="answer to a request over a limit: HTTP 429, or HTTP 200 with status false (both IA429)")
    net.add_argument("--arrival-jitter-ms", type=_non_negative, default=0.0, metavar="MAX",
                     help="delay each request a random 0..MAX ms before it is counted and handled")
    net.add_argument("--idle-timeout", type=_positive, default=None, metavar="S",
                     help="close keep-alive connections idle for S seconds, announced as Keep-Alive: timeout=S")
    net.add_argument("--connect-latency-ms", type=_non_negative, default=0.0, metavar="N",
                     help="delay the first request of each new connection by N ms (a real TCP+TLS handshake)")

    data = parser.add_argument_group("market data")
    data.add_argument("--quote-cap", type=_positive_int, default=500, metavar="N",
                      help="most tokens per quote call; more are refused with HTTP 400 (default 500)")
    data.add_argument("--quote-full", choices=QUOTE_FULL_LAYOUTS, default="smartapi",
                      help="FULL quote answer: smartapi fields with depth, without depth, like OHLC, or refused")
    data.add_argument("--history-bar-limit", type=_positive_int, default=1000, metavar="N",
                      help="most candles per historical call (default 1000)")
    data.add_argument("--history-over-limit", choices=HISTORY_OVER_LIMIT, default="truncate",
                      help="a longer range: the oldest N candles with a note, or refused with HTTP 400")
    data.add_argument("--hourly-labels", choices=HOURLY_LABELS, default="start",
                      help="hourly candles labelled by their start (09:15..15:15) or their end (10:15..15:30)")
    data.add_argument("--index-set", choices=tuple(INDEX_SETS), default="confirmed",
                      help="NSE index tokens served: the six confirmed ones, or more NSE indices as well")

    feed = parser.add_argument_group("market feed")
    feed.add_argument("--feed-framing", choices=FEED_FRAMINGS, default="header",
                      help="binary frames: LE count+size header, bare packets, or BE count + BE length per packet")
    feed.add_argument("--currency-divisor", type=_positive_int, default=100, metavar="N",
                      help="feed prices of currency contracts are rupees x N (default 100, as other segments)")
    feed.add_argument("--feed-epoch", choices=FEED_EPOCHS, default="ist",
                      help="feed timestamps count seconds from 1980-01-01 00:00 in IST or in UTC")
    feed.add_argument("--depth-side-flag", type=_depth_flag, default=(1, 0), metavar="B=buy,S=sell",
                      help="int16 flag of bid and ask depth entries (default 1=buy,0=sell)")
    feed.add_argument("--depth-order", choices=DEPTH_ORDERS, default="bids-first",
                      help="which five depth entries come first in a packet")
    feed.add_argument("--order-frames", choices=ORDER_FRAME_SHAPES, default="current",
                      help='order updates as {"order_status":..,"orderData":..} or legacy {"type":..,"data":..}')
    feed.add_argument("--feed-max-sockets", type=_positive_int, default=None, metavar="N",
                      help="most feed sockets per access token (default: unlimited)")
    feed.add_argument("--feed-socket-policy", choices=FEED_SOCKET_POLICIES, default="refuse",
                      help="over --feed-max-sockets: refuse the new socket (HTTP 429) or close the oldest")

    orders = parser.add_argument_group("orders")
    orders.add_argument("--no-ordertag-echo", action="store_true",
                        help="order book rows and order updates omit ordertag (order details keep it)")
    orders.add_argument("--partial-fill-status", default="", metavar="TEXT",
                        help="status of a partly filled order (default: it keeps its open status)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the embedded mStock Type B sandbox on this machine",
        description="Runs a local, stateful mStock Type B server (REST + market feed) for demos and tests.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~mstock_sandbox.SandboxConfig` the flags describe (ValueError if they clash)."""
    from . import SandboxConfig

    port = DEFAULT_PORT if args.port is None else args.port
    if args.ws_port is None:
        ws_port = port + 1 if port else 0
    else:
        ws_port = args.ws_port
    return SandboxConfig(
        host=args.host,
        port=port,
        feed_port=ws_port,
        master_size=args.master_size,
        log_file=args.log,
        always_open=not args.real_hours,
        enforce_rate_limits=not args.no_rate_limits,
        strict_rate_limits=args.strict_rate_limits,
        rate_limit_shape=args.rate_limit_shape,
        arrival_jitter_ms=args.arrival_jitter_ms,
        idle_timeout=args.idle_timeout,
        connect_latency_ms=args.connect_latency_ms,
        quote_token_cap=args.quote_cap,
        quote_full=args.quote_full,
        history_bar_limit=args.history_bar_limit,
        history_over_limit=args.history_over_limit,
        hourly_labels=args.hourly_labels,
        index_spots=INDEX_SETS[args.index_set],
        feed_framing=args.feed_framing,
        currency_divisor=args.currency_divisor,
        feed_epoch=args.feed_epoch,
        depth_side_flag=args.depth_side_flag,
        depth_order=args.depth_order,
        order_frame_shape=args.order_frames,
        feed_max_sockets=args.feed_max_sockets,
        feed_socket_policy=args.feed_socket_policy,
        ordertag_echo=not args.no_ordertag_echo,
        partial_fill_status=args.partial_fill_status.strip(),
    )


def launch(args: argparse.Namespace) -> Any:
    """Start the sandbox the flags describe and write its ``.env`` file.

    Returns the running :class:`~mstock_sandbox.SandboxServer`, or an exit code after
    printing one line that says what went wrong (a port in use, a bad flag).
    """
    from . import PortInUse, SandboxServer

    try:
        config = config_from_args(args)
        server = SandboxServer(config, feed_options={"tick_market": args.tick > 0, "publish_interval": args.tick or 0.5})
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the session log's folder cannot be created
        print(f"error: cannot write the session log {args.log}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        server.log.echo = print
    moved: list[int] = []
    while True:
        try:
            server.start()
            break
        except PortInUse as exc:
            chosen = args.port if exc.role == "HTTP" else args.ws_port
            if chosen is not None:
                flag = "--port" if exc.role == "HTTP" else "--ws-port"
                print(f"port {exc.port} is in use; pass {flag} with a free port", file=sys.stderr)
                return 1
            moved.append(exc.port)
            # The default port is taken (another sandbox?): any free port will do.
            if exc.role == "HTTP":
                config.port = 0
                if args.ws_port is None:
                    config.feed_port = 0
            else:
                config.feed_port = 0
        except OSError as exc:
            print(f"error: cannot listen on {config.host}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    for port in moved:
        print(f"port {port} is in use; the sandbox took a free port instead (see the .env lines below)")
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir(args.env_out)
    try:
        env = {**server.env(data_dir=data_dir), "MSTOCK_OTP": server.account.otp}
        write_env_file(args.env_out, env)
    except OSError as exc:
        server.stop()
        print(f"error: cannot write {exc.filename or args.env_out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"mStock Type B sandbox is running. Its .env lines (fake, local values) are in {args.env_out} (mode 0600):\n")
    for line in masked_env_lines(env):
        print(f"  {line}")
    print(f"\nUse them with: mstock-openalgo --env-file {args.env_out} login")
    print("The sandbox keeps its own symbol table and session file, apart from a live account's.")
    print("Press Ctrl-C to stop.\n")
    return server


def run(args: argparse.Namespace) -> int:
    try:
        server = launch(args)
    except KeyboardInterrupt:
        print("\nstopped before the sandbox was up", file=sys.stderr)
        return 130
    if isinstance(server, int):
        return server
    stop = threading.Event()
    if args.tick > 0 and server.feed is None:
        def walk() -> None:
            while not stop.wait(args.tick):
                server.state.market.tick()
        threading.Thread(target=walk, name="sandbox-ticker", daemon=True).start()
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


def default_data_dir(env_file: Path) -> Path:
    """``sandbox.env`` -> ``sandbox-data/`` beside it: the sandbox's own database and session."""
    env_file = Path(env_file)
    return env_file.parent / f"{env_file.stem or 'sandbox'}-data"


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``NAME=value`` lines, creating the file with mode 0600 (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if hasattr(os, "fchmod"):  # absent on Windows before Python 3.13; there the mode is advisory anyway
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
