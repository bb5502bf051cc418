"""The adapter module imports with no OpenAlgo, no environment and no network (contract 1.4).

Each check runs in a fresh interpreter with an empty environment, because the point is
what happens at import time in a process that has nothing set up.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_clean(code: str, *extra_paths: Path) -> str:
    path = ":".join(str(p) for p in (*extra_paths, ROOT))
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path[:0] = {path.split(':')!r}\n" + textwrap.dedent(code)],
        env={},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_imports_standalone_with_nothing_set_up():
    out = run_clean(
        """
        import socket
        def no_network(*a, **k):
            raise AssertionError("network at import time")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        from broker.mstock.streaming.mstock_adapter import MstockWebSocketAdapter
        from broker.mstock.streaming.base import StandaloneAdapterBase
        assert issubclass(MstockWebSocketAdapter, StandaloneAdapterBase)
        loaded = set(sys.modules)
        assert not {"websocket_proxy", "database", "utils", "zmq", "sqlalchemy", "requests"} & loaded, sorted(loaded)
        adapter = MstockWebSocketAdapter()  # constructing it does no work either
        print(adapter.connected, adapter.subscriptions)
        """
    )
    assert out == "False {}"


FAKE_BASE = '''
from abc import ABC, abstractmethod

class BaseBrokerWebSocketAdapter(ABC):
    def __init__(self):
        self.subscriptions = {}
        self.connected = False
        self.published = []

    @abstractmethod
    def initialize(self, broker_name, user_id, auth_data=None): ...
    @abstractmethod
    def subscribe(self, symbol, exchange, mode=2, depth_level=5): ...
    @abstractmethod
    def unsubscribe(self, symbol, exchange, mode=2): ...
    @abstractmethod
    def connect(self): ...
    @abstractmethod
    def disconnect(self): ...

    def publish_market_data(self, topic, data):
        self.published.append((topic, data))

    def cleanup_zmq(self):
        pass

    def _create_success_response(self, message, **kwargs):
        return {"status": "success", "message": message, **kwargs}

    def _create_error_response(self, code, message):
        return {"status": "error", "code": code, "message": message}
'''

# Like OpenAlgo's websocket_proxy/__init__.py: base first, then every broker adapter.
FAKE_PACKAGE = '''
from .base_adapter import BaseBrokerWebSocketAdapter
from broker.mstock.streaming.mstock_adapter import MstockWebSocketAdapter
REGISTRY = {"mstock": MstockWebSocketAdapter}
'''


def fake_openalgo(tmp_path: Path, **modules: str) -> Path:
    """A stand-in ``websocket_proxy`` package under ``tmp_path``: its ``__init__`` and base
    adapter, plus ``modules`` (module name -> source)."""
    package = tmp_path / "websocket_proxy"
    package.mkdir()
    for name, source in {"__init__": FAKE_PACKAGE, "base_adapter": FAKE_BASE, **modules}.items():
        (package / f"{name}.py").write_text(source)
    return tmp_path


def test_subclasses_openalgos_base_when_imported_by_the_proxy(tmp_path):
    out = run_clean(
        """
        import websocket_proxy
        from websocket_proxy.base_adapter import BaseBrokerWebSocketAdapter
        cls = websocket_proxy.REGISTRY["mstock"]
        assert issubclass(cls, BaseBrokerWebSocketAdapter), cls.__mro__
        adapter = cls()  # abstract methods all implemented
        print(cls.__mro__[1].__module__)
        """,
        fake_openalgo(tmp_path),
    )
    assert out == "websocket_proxy.base_adapter"


def test_dynamic_import_after_the_proxy_package_also_gets_the_base(tmp_path):
    out = run_clean(
        """
        import importlib, websocket_proxy
        module = importlib.import_module("broker.mstock.streaming.mstock_adapter")
        print(getattr(module, "MstockWebSocketAdapter").__mro__[1].__name__)
        """,
        fake_openalgo(tmp_path),
    )
    assert out == "BaseBrokerWebSocketAdapter"


def test_importing_the_adapter_first_never_triggers_the_circular_import(tmp_path):
    out = run_clean(
        """
        from broker.mstock.streaming.mstock_adapter import MstockWebSocketAdapter
        print("websocket_proxy" in sys.modules, MstockWebSocketAdapter.__mro__[1].__name__)
        """,
        fake_openalgo(tmp_path),
    )
    assert out == "False StandaloneAdapterBase"


def test_streaming_package_init_is_empty():
    out = run_clean(
        """
        import broker.mstock.streaming
        print(sorted(m for m in sys.modules if m.startswith("broker.mstock.streaming")))
        """
    )
    assert out == "['broker.mstock.streaming']"
