"""The order-update adapter module imports with no OpenAlgo and does no work (contract 1.4, 12).

OpenAlgo's order-update service imports ``websocket_proxy`` and then this module, and calls
``create_mstock_order_adapter``; the installer checks exactly that import. Each check runs in
a fresh interpreter with an empty environment.
"""

from __future__ import annotations

from .test_adapter_import import fake_openalgo, run_clean

# OpenAlgo's order-update base class as contract 12 describes it: constructed with
# (broker_name, user_id), three abstract hooks, and a publisher that builds the event from
# the fields, failing on an unknown key.
FAKE_ORDER_BASE = '''
from abc import ABC, abstractmethod
from dataclasses import dataclass

@dataclass
class OrderUpdateEvent:
    orderid: str = ""; symbol: str = ""; exchange: str = ""; action: str = ""; quantity: int = 0
    price: float = 0.0; trigger_price: float = 0.0; pricetype: str = ""; product: str = ""
    order_status: str = ""; filled_quantity: int = 0; pending_quantity: int = 0; average_price: float = 0.0
    rejection_reason: str = ""; broker: str = ""; mode: str = "live"; api_type: str = ""
    request_data: dict = None

PUBLISHED = []

class BaseOrderUpdateAdapter(ABC):
    def __init__(self, broker_name, user_id):
        self.broker_name = broker_name
        self.user_id = user_id
        self._ws = None
        self._running = False

    @abstractmethod
    def get_ws_url(self): ...
    @abstractmethod
    def get_headers(self): ...
    @abstractmethod
    def normalize(self, raw_message): ...

    @property
    def connected(self):
        return self._running and self._ws is not None

    def _publish_event_fields(self, fields):
        fields.setdefault("mode", "live")
        fields.setdefault("broker", self.broker_name)
        fields.setdefault("request_data", {"user_id": self.user_id})
        fields.setdefault("api_type", f"{self.broker_name}.order_update")
        PUBLISHED.append(OrderUpdateEvent(**fields))
'''


def test_imports_with_nothing_set_up_and_builds_on_the_stand_in():
    out = run_clean(
        """
        import socket
        def no_network(*a, **k):
            raise AssertionError("network at import time")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        import broker.mstock.streaming.mstock_order_adapter as module
        loaded = set(sys.modules)
        assert not {"websocket_proxy", "database", "utils", "zmq", "sqlalchemy"} & loaded, sorted(loaded)
        cls = module.order_adapter_class()
        adapter = cls("alice", token_provider=lambda: None)  # constructing it does no work either
        print(cls.__mro__[2].__name__, adapter.connected, adapter.mode, "websocket_proxy" in sys.modules)
        """
    )
    assert out == "StandaloneOrderAdapterBase False stopped False"


def test_as_openalgo_loads_it_the_adapter_is_a_base_order_update_adapter(tmp_path):
    out = run_clean(
        """
        import importlib
        importlib.import_module("websocket_proxy")  # what the service and the installer do first
        module = importlib.import_module("broker.mstock.streaming.mstock_order_adapter")
        assert callable(getattr(module, "create_mstock_order_adapter"))
        from websocket_proxy.order_adapter import PUBLISHED, BaseOrderUpdateAdapter
        from broker.mstock.streaming.order_events import EVENT_FIELDS
        cls = module.order_adapter_class()
        assert issubclass(cls, BaseOrderUpdateAdapter), cls.__mro__
        adapter = cls("alice", token_provider=lambda: None)  # every abstract hook is implemented
        fields = dict.fromkeys(EVENT_FIELDS, "")
        fields.update(orderid="1", quantity=10, price=1.5, order_status="open")
        adapter._publish(fields)
        event = PUBLISHED[0]
        print(event.orderid, event.order_status, event.broker, event.api_type, event.request_data, adapter.connected)
        """,
        fake_openalgo(tmp_path, order_adapter=FAKE_ORDER_BASE),
    )
    assert out == "1 open mstock mstock.order_update {'user_id': 'alice'} False"
