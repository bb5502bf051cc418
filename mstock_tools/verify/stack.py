"""Boot a throw-away OpenAlgo with this plugin, against the embedded sandbox, on loopback only.

:class:`Stack` does, in order: check the checkout and its interpreter, start the sandbox
(REST + feed), copy the checkout into a private temporary folder (code only: never its
database, ``.env``, logs, virtualenv, strategies or plugin), write the copy's ``.env``,
install this plugin into it with the project's installer, then start OpenAlgo and its
WebSocket proxy with the checkout's own interpreter (a run about to straddle midnight IST,
when mStock sessions end, first waits for it to pass). :meth:`Stack.close` stops everything
it started, in reverse order, whatever happened; every step is recorded as a :class:`Step`
(name, seconds, error) for the table.

Loopback only: every address we listen on or connect to goes through :func:`loopback_url`;
OpenAlgo's processes get an HTTP(S) proxy that points at a closed loopback port, so anything
in them that tries to reach beyond this machine fails locally instead of leaving it.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mstock_sandbox.clock import next_midnight

LOOPBACK = "127.0.0.1"

# What a checkout holds besides OpenAlgo's code: the user's data, secrets, environments and
# strategies. None of it is copied (OpenAlgo's own .gitignore lists the same things); the
# folders OpenAlgo expects are re-created empty.
_PRIVATE_TOP_LEVEL = frozenset({
    "venv", "env", "ENV", "env.bak", "venv.bak", "db", "log", "logs", "keys", "tmp", "instance", "workspace",
})
_PRIVATE_ANYWHERE = frozenset({"__pycache__", "node_modules", ".pytest_cache"})
_PRIVATE_SUFFIXES = (".pyc", ".db", ".db-wal", ".db-shm", ".db-journal", ".duckdb", ".duckdb.wal", ".sqlite",
                     ".log", ".env")
_EMPTY_FOLDERS = ("db", "log", "keys", "tmp", "workspace", "strategies/scripts")


def _private(name: str) -> bool:
    if name == ".sample.env":  # OpenAlgo's template: the copy's .env is written from it
        return False
    return name in _PRIVATE_ANYWHERE or name.endswith(_PRIVATE_SUFFIXES) or name.startswith(".env")


# Runs first in OpenAlgo's processes (after exec, single-threaded): on Linux, ask the kernel
# for SIGTERM when verify dies, even by SIGKILL, so nothing is left running; and stop at once
# if verify is already gone. (Not a preexec_fn: forking a threaded process and running code
# before exec can deadlock the child.)
_GUARD = """\
import os, signal, sys
if sys.platform.startswith("linux"):
    import ctypes
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
if os.getppid() != int(sys.argv[1]):
    sys.exit("mstock-openalgo verify has stopped")
"""

# Flask-SocketIO refuses Werkzeug when stdin is not a terminal; OpenAlgo's app.py does not pass
# allow_unsafe_werkzeug. This launcher defaults that one keyword and runs app.py unchanged.
_APP_LAUNCHER = _GUARD + """\
import runpy
import flask_socketio
_run = flask_socketio.SocketIO.run
def _run_allowing_werkzeug(self, app, *args, **kwargs):
    kwargs.setdefault("allow_unsafe_werkzeug", True)
    return _run(self, app, *args, **kwargs)
flask_socketio.SocketIO.run = _run_allowing_werkzeug
sys.argv = ["app.py"]
runpy.run_path("app.py", run_name="__main__")
"""

# `python -m websocket_proxy.server`, behind the same guard.
_PROXY_LAUNCHER = _GUARD + """\
import runpy
sys.argv = ["websocket_proxy/server.py"]
runpy.run_module("websocket_proxy.server", run_name="__main__", alter_sys=True)
"""


class StackError(Exception):
    """A boot step failed; the message says what and what to do."""


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    error: str | None = None


def loopback_url(url: str) -> str:
    """``url`` unchanged if its host is a loopback address, else :class:`StackError`."""
    host = urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise StackError(f"refusing to use {host or url!r}: verify talks to loopback addresses only")
    return url


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held together while picked)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            held.append(sock)
        return [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


MIDNIGHT_GUARD_SECONDS = 300.0


def seconds_to_wait_for_midnight(now: datetime, guard: float = MIDNIGHT_GUARD_SECONDS) -> float:
    """Seconds until just past the next midnight IST if it is less than ``guard`` away, else 0."""
    left = (next_midnight(now) - now).total_seconds()
    return left + 5.0 if left < guard else 0.0


def find_interpreter(checkout: Path, python: str | None) -> str:
    """The interpreter to run OpenAlgo with: ``python`` if given, else the checkout's own venv.

    The path is never resolved: a venv's ``bin/python`` is a symlink to the base
    interpreter, and resolving it would lose the venv and its packages.
    """
    if python:
        found = shutil.which(python) if os.sep not in python else python
        if not found or not Path(found).exists():
            raise StackError(f"interpreter {python} not found: pass --python with the path of OpenAlgo's python")
        return str(Path(found).absolute())
    for candidate in (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe", "venv/Scripts/python.exe"):
        path = checkout / candidate
        if path.exists():
            return str(path.absolute())
    raise StackError(
        f"no virtualenv in {checkout} (.venv or venv): create it as OpenAlgo's install guide says "
        "(python3.12 -m venv .venv && .venv/bin/pip install -r requirements.txt), or pass --python"
    )


def is_openalgo_checkout(root: Path) -> bool:
    return (root / "app.py").is_file() and (root / "broker").is_dir() and (root / "websocket_proxy").is_dir()


def _copy_ignore(source_root: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        skipped = {n for n in names if _private(n)}
        if here == source_root:
            # Dot-entries (.git, .venv, .cloudflared tunnel credentials...) except the sample .env.
            skipped |= {n for n in names if n in _PRIVATE_TOP_LEVEL or (n.startswith(".") and n != ".sample.env")}
        elif here == source_root / "broker":
            skipped.add("mstock")  # replaced by this plugin; the user's copy is never read
        elif here == source_root / "strategies":
            # The user's strategy scripts and their schedules: OpenAlgo would restore and run them.
            skipped |= {n for n in names if n == "scripts" or n.endswith(".json")}
        return skipped

    return ignore


def render_env(sample: str, values: dict[str, str]) -> str:
    """OpenAlgo's ``.sample.env`` with ``values`` set, unknown names appended.

    ``FERNET_SALT`` is written on the line right after ``API_KEY_PEPPER``: OpenAlgo's
    start-up check rewrites the file when it is anywhere else.
    """
    out: list[str] = []
    done: set[str] = set()
    for line in sample.splitlines():
        name = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if name == "FERNET_SALT" and "FERNET_SALT" in values:
            continue
        if name in values:
            out.append(f"{name} = '{values[name]}'")
            done.add(name)
            if name == "API_KEY_PEPPER" and "FERNET_SALT" in values:
                out.append(f"FERNET_SALT = '{values['FERNET_SALT']}'")
                done.add("FERNET_SALT")
            continue
        out.append(line)
    missing = [n for n in values if n not in done]
    if missing:
        out.append("")
        out.append("# Added by mstock-openalgo verify")
        out.extend(f"{n} = '{values[n]}'" for n in missing)
    return "\n".join(out) + "\n"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left."""
        if self.popen.poll() is not None:
            return
        _signal_group(self.popen, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.popen, signal.SIGKILL)
            self.popen.wait(5)


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(popen.pid, sig)
        else:
            popen.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Stack:
    """One throw-away OpenAlgo + sandbox. Use as a context manager, or call :meth:`close`."""

    checkout: Path
    python: str | None = None
    keep: bool = False
    master_size: int = 4000
    boot_timeout: float = 180.0
    steps: list[Step] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc), repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    # Filled while booting.
    run_dir: Path | None = None
    copy: Path | None = None
    interpreter: str | None = None
    sandbox: Any = None
    ports: dict[str, int] = field(default_factory=dict)
    env_values: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    _closed: bool = False

    # ------------------------------------------------------------------ addresses

    @property
    def base_url(self) -> str:
        return loopback_url(f"http://{LOOPBACK}:{self.ports['flask']}")

    @property
    def ws_url(self) -> str:
        return loopback_url(f"ws://{LOOPBACK}:{self.ports['websocket']}")

    def secrets(self) -> list[str]:
        """Values that must never be printed (masked in every message verify shows)."""
        account = self.sandbox.account if self.sandbox is not None else None
        values = [self.env_values.get(n, "") for n in ("APP_KEY", "API_KEY_PEPPER", "FERNET_SALT", "BROKER_API_SECRET")]
        if account is not None:
            values += [account.password, account.totp_secret, account.api_key]
        return [v for v in values if v]

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Stack:
        try:
            self.boot()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[Step]:
        step = Step(name)
        self.steps.append(step)
        started = time.monotonic()
        try:
            yield step
        except BaseException as exc:
            step.error = str(exc) if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
            raise
        finally:
            step.seconds = time.monotonic() - started

    def boot(self) -> None:
        checkout = Path(self.checkout).expanduser().absolute()
        wait = seconds_to_wait_for_midnight(self.clock())
        if wait:
            # mStock sessions end at midnight IST (the sandbox does the same): a run that
            # straddles it would see its login expire halfway through.
            with self.step("wait for midnight IST to pass (mStock sessions end then)"):
                self.sleep(wait)
        with self.step("check the OpenAlgo checkout and its Python"):
            if not is_openalgo_checkout(checkout):
                raise StackError(f"{checkout} is not an OpenAlgo checkout (expected app.py, broker/ and websocket_proxy/)")
            self.interpreter = find_interpreter(checkout, self.python)
            self._check_interpreter()
            self.run_dir = Path(tempfile.mkdtemp(prefix="mstock-verify-"))
            (self.run_dir / "logs").mkdir()
            (self.run_dir / "home").mkdir()
        with self.step("start the mStock sandbox"):
            self._start_sandbox()
        with self.step("copy OpenAlgo, install the plugin, write .env"):
            self.copy = self.run_dir / "openalgo"
            shutil.copytree(checkout, self.copy, symlinks=True, ignore=_copy_ignore(checkout))
            for folder in _EMPTY_FOLDERS:
                (self.copy / folder).mkdir(parents=True, exist_ok=True)
            self.ports = dict(zip(("flask", "websocket", "zmq"), free_ports(3)))
            self._write_env()
            self._install_plugin()
        with self.step("start OpenAlgo"):
            self._start_openalgo()
        with self.step("start OpenAlgo's WebSocket proxy"):
            self._start_ws_proxy()

    def _check_interpreter(self) -> None:
        assert self.interpreter is not None
        try:
            result = subprocess.run(
                [self.interpreter, "-c", "import sys, flask_socketio; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=60, env=self._process_env(Path(tempfile.gettempdir())),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"cannot run {self.interpreter}: {exc}") from None
        if result.returncode != 0:
            raise StackError(
                f"{self.interpreter} cannot import OpenAlgo's requirements (flask_socketio): "
                "install them with <python> -m pip install -r requirements.txt, or pass --python"
            )
        major, minor = (int(x) for x in result.stdout.strip().split("."))
        if (major, minor) < (3, 12):
            raise StackError(f"{self.interpreter} is Python {major}.{minor}; OpenAlgo needs 3.12 or newer")

    def _start_sandbox(self) -> None:
        from mstock_sandbox import SandboxConfig, SandboxServer

        assert self.run_dir is not None
        config = SandboxConfig(
            host=LOOPBACK, port=0, feed_port=0, master_size=self.master_size,
            log_file=self.run_dir / "logs" / "sandbox.log",
        )
        self.sandbox = SandboxServer(config).start()
        loopback_url(self.sandbox.base_url)
        if not self.sandbox.ws_url:
            raise StackError("the sandbox's market-data feed did not start (is the 'websockets' package installed?)")
        loopback_url(self.sandbox.ws_url)

    def _write_env(self) -> None:
        assert self.copy is not None
        sandbox_env = self.sandbox.env()
        flask, ws, zmq = self.ports["flask"], self.ports["websocket"], self.ports["zmq"]
        origin = f"http://{LOOPBACK}:{flask}"
        self.env_values = {
            "BROKER_API_KEY": sandbox_env["BROKER_API_KEY"],
            "BROKER_API_SECRET": sandbox_env["BROKER_API_SECRET"],
            "REDIRECT_URL": f"{origin}/mstock/callback",
            "VALID_BROKERS": "mstock",
            "APP_KEY": secrets.token_hex(32),
            "API_KEY_PEPPER": secrets.token_hex(32),
            "FERNET_SALT": secrets.token_hex(16),
            "DATABASE_URL": "sqlite:///db/openalgo.db",
            "NGROK_ALLOW": "FALSE",
            "HOST_SERVER": origin,
            "FLASK_HOST_IP": LOOPBACK,
            "FLASK_PORT": str(flask),
            "FLASK_DEBUG": "False",
            "WEBSOCKET_HOST": LOOPBACK,
            "WEBSOCKET_PORT": str(ws),
            "WEBSOCKET_URL": f"ws://{LOOPBACK}:{ws}",
            "ZMQ_HOST": LOOPBACK,
            "ZMQ_PORT": str(zmq),
            "CORS_ALLOWED_ORIGINS": origin,
            "LOGIN_RATE_LIMIT_MIN": "1000 per minute",
            "LOGIN_RATE_LIMIT_HOUR": "10000 per hour",
            # The checks call back to back; OpenAlgo's defaults (10 orders/s) would refuse some
            # with HTTP 429. The plugin's own limiter still keeps mStock's limits.
            "API_RATE_LIMIT": "100 per second",
            "ORDER_RATE_LIMIT": "100 per second",
            "SMART_ORDER_RATE_LIMIT": "100 per second",
            "LOG_TO_FILE": "False",
            "LOG_COLORS": "False",
            "FORCE_COLOR": "0",
            "MSTOCK_BASE_URL": sandbox_env["MSTOCK_BASE_URL"],
            "MSTOCK_WS_URL": sandbox_env["MSTOCK_WS_URL"],
        }
        sample_path = self.copy / ".sample.env"
        sample = sample_path.read_text(encoding="utf-8") if sample_path.is_file() else ""
        env_path = self.copy / ".env"
        fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_env(sample, self.env_values))

    def _install_plugin(self) -> None:
        from mstock_tools import install

        assert self.copy is not None
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            code = install.install(str(self.copy), python=self.interpreter)
        if code != 0:
            raise StackError("the installer refused the copy:\n" + captured.getvalue().strip())

    def _process_env(self, home: Path) -> dict[str, str]:
        # A clean environment: nothing from the user's shell (a DATABASE_URL, broker keys...)
        # reaches the copy. The proxy points at the closed port 9 on loopback, so any HTTP(S)
        # call beyond this machine fails at once; loopback itself bypasses it.
        dead_proxy = f"http://{LOOPBACK}:9"
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            # The interpreter is the user's own OpenAlgo environment: leave no bytecode in it.
            "PYTHONDONTWRITEBYTECODE": "1",
            "APP_MODE": "standalone",  # we start the WebSocket proxy ourselves, on every OS
            "NO_COLOR": "1",
        }
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            env[name] = dead_proxy
        env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost,::1"
        for name in ("SYSTEMROOT", "TMPDIR", "TEMP", "TMP"):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def _spawn(self, name: str, argv: list[str]) -> Process:
        assert self.run_dir is not None and self.copy is not None
        log_path = self.run_dir / "logs" / f"{name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
        try:
            popen = subprocess.Popen(
                argv, cwd=self.copy, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._process_env(self.run_dir / "home"), start_new_session=(os.name == "posix"),
            )
        finally:
            log.close()
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def _start_openalgo(self) -> None:
        assert self.interpreter is not None
        app = self._spawn("openalgo", [self.interpreter, "-c", _APP_LAUNCHER, str(os.getpid())])
        self._wait_http(app, f"{self.base_url}/auth/check-setup")

    def _start_ws_proxy(self) -> None:
        assert self.interpreter is not None
        proxy = self._spawn("websocket-proxy", [self.interpreter, "-c", _PROXY_LAUNCHER, str(os.getpid())])
        self._wait_tcp(proxy, self.ports["websocket"])

    def _wait_http(self, process: Process, url: str) -> None:
        import requests

        deadline = time.monotonic() + self.boot_timeout
        session = requests.Session()
        session.trust_env = False  # never a proxy for loopback
        try:
            while time.monotonic() < deadline:
                if not process.alive():
                    raise StackError(f"{process.name} exited with code {process.popen.returncode}:\n{process.log_tail()}")
                try:
                    if session.get(loopback_url(url), timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.25)
        finally:
            session.close()
        raise StackError(f"{process.name} did not answer {url} within {self.boot_timeout:.0f} s:\n{process.log_tail()}")

    def _wait_tcp(self, process: Process, port: int) -> None:
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise StackError(f"{process.name} exited with code {process.popen.returncode}:\n{process.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
                return
            time.sleep(0.25)
        raise StackError(f"{process.name} did not listen on port {port} within {self.boot_timeout:.0f} s:\n{process.log_tail()}")

    def close(self) -> None:
        """Stop every process and server this stack started; remove its folder unless ``keep``.

        A second Ctrl-C (or SIGTERM) while stopping must not leave OpenAlgo running, so
        those signals are held off until everything is down.
        """
        if self._closed:
            return
        self._closed = True
        with _signals_held():
            for process in reversed(self.processes):
                try:
                    process.stop()
                except (OSError, subprocess.SubprocessError):
                    _signal_group(process.popen, signal.SIGKILL)
            try:
                if self.sandbox is not None:
                    self.sandbox.stop()
            finally:
                if self.run_dir is not None and not self.keep:
                    shutil.rmtree(self.run_dir, ignore_errors=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    import threading

    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupt_on_signals() -> Callable[[], None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks stop the stack.

    Returns a function that restores the previous handlers.
    """
    if os.name != "posix" or sys.platform == "win32":
        return lambda: None
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
