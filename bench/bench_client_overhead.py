"""Benchmark: what ``MStockClient.call`` adds to one order request over a bare HTTP client.

    <python> bench/bench_client_overhead.py [--calls 400] [--rounds 6]

A minimal HTTP/1.1 keep-alive server (its own process, so it does not share this one's
GIL) answers ``POST /openapi/typeb/orders/regular`` with mStock's list-wrapped success
envelope. In the same process and on the same server, call by call in turn:

* **floor**: the bare client: the standard library's ``http.client.HTTPConnection`` on
  one kept-alive connection, sending the same JSON bytes with the same headers, reading
  the body and decoding it (what any client must do, with nothing else);
* **requests**: a bare ``requests.Session`` doing the same (for reference: what the
  library we build on costs by itself);
* **ours**: ``MStockClient.call("orders.place", json=...)``: the route table, the rate
  limiter (a real ``RateLimiter``, with windows too wide to ever wait), the credential
  headers, the send, and the envelope parser.

Each round reports the median time per call of each; the overhead is ours minus the
floor per round (a range over the rounds).

When the pinned OpenAlgo tarball is present (see ``openalgo_host``), the variables of its
``.sample.env`` are loaded into the environment first, as OpenAlgo's process loads its
``.env``: requests' per-call proxy lookup walks the whole environment, so its size matters. Both run twice: with the
shell's environment, and with ``HTTPS_PROXY``/``HTTP_PROXY`` set and ``NO_PROXY`` naming
the loopback host (a typical corporate setup; both clients must still go direct), because
requests re-reads the proxy variables on every call unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLACE_OK = json.dumps([{"status": "true", "message": "SUCCESS", "errorcode": "",
                        "data": {"script": "SBIN-EQ", "orderid": "1191241106101", "uniqueorderid": ""}}]).encode()
ORDER = {"tradingsymbol": "SBIN-EQ", "exchange": "NSE", "transaction_type": "BUY", "order_type": "MARKET",
         "quantity": "1", "product": "MIS", "validity": "DAY", "price": "0", "trigger_price": "0",
         "disclosed_quantity": "0", "tag": "oa1a2b3c4d5e"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(PLACE_OK)))
        self.end_headers()
        self.wfile.write(PLACE_OK)

    def log_message(self, *args) -> None:
        pass


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


@contextmanager
def server_process():
    process = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(5)


def _clients(base_url: str):
    import http.client
    from urllib.parse import urlsplit

    import requests

    from broker.mstock.config import API_PREFIX
    from broker.mstock.transport.client import MStockClient
    from broker.mstock.transport.ratelimit import DOCUMENTED_LIMITS, RateLimiter

    # The documented windows, each 10^6 times wider: the same bookkeeping, never a wait.
    wide = {category: tuple((limit * 10**6, period) for limit, period in windows)
            for category, windows in DOCUMENTED_LIMITS.items()}
    ours = MStockClient("bench-access-token", api_key="bench-api-key", base_url=base_url, limiter=RateLimiter(wide))
    session = requests.Session()
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=7.0)
    path = API_PREFIX + "/orders/regular"
    headers = {"X-Mirae-Version": "1", "Content-Type": "application/json", "X-PrivateKey": "bench-api-key",
               "Authorization": "Bearer bench-access-token", "Accept": "application/json"}

    def bare() -> None:
        connection.request("POST", path, body=json.dumps(ORDER, separators=(",", ":")).encode(), headers=headers)
        json.loads(connection.getresponse().read())

    def with_requests() -> None:
        body = json.dumps(ORDER, separators=(",", ":")).encode()
        response = session.post(base_url + path, data=body, headers=headers, allow_redirects=False,
                                timeout=(3.05, 7.0))
        json.loads(response.content)

    def mine() -> None:
        ours.call("orders.place", json=ORDER)

    def close() -> None:
        ours.close()
        session.close()
        connection.close()

    return {"floor": bare, "requests": with_requests, "ours": mine}, close


def _round(clients: dict, calls: int) -> dict[str, float]:
    """Median seconds per call of each client, the clients taking turns call by call."""
    clock = time.perf_counter
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(calls):
        for name, fn in clients.items():
            started = clock()
            fn()
            times[name].append(clock() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(base_url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    clients, close = _clients(base_url)
    try:
        for _ in range(50):  # connect, warm caches
            for fn in clients.values():
                fn()
        out: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(rounds):
            for name, seconds in _round(clients, calls).items():
                out[name].append(seconds)
        return out
    finally:
        close()


def _load_openalgo_sample_env() -> int:
    """Load the pinned OpenAlgo's ``.sample.env`` (placeholders, no secrets); return how many were new."""
    import tarfile

    import openalgo_host
    from dotenv import dotenv_values

    tarball = openalgo_host.find_tarball()
    if tarball is None:
        return 0
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("openalgo/.sample.env")
        text = member.read().decode() if member else ""
    import io

    values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None and k not in os.environ}
    os.environ.update(values)
    return len(values)


def _us(values: list[float]) -> str:
    return f"{min(values) * 1e6:.0f}-{max(values) * 1e6:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    loaded = _load_openalgo_sample_env()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.rounds} rounds x {args.calls} calls; "
          f"server in its own process on loopback; {len(os.environ)} environment variables"
          + (f" (with {loaded} from OpenAlgo's .sample.env)" if loaded else ""))
    saved = {k: os.environ.get(k) for k in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy",
                                            "no_proxy")}
    with server_process() as base_url:
        for label, env in (("shell environment", {}),
                           ("HTTPS_PROXY/HTTP_PROXY set, NO_PROXY=127.0.0.1,localhost",
                            {"HTTPS_PROXY": "http://proxy.invalid:3128", "HTTP_PROXY": "http://proxy.invalid:3128",
                             "NO_PROXY": "127.0.0.1,localhost"})):
            os.environ.update(env)
            try:
                result = measure(base_url, args.calls, args.rounds)
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            overhead = [o - f for o, f in zip(result["ours"], result["floor"])]
            library = [r - f for r, f in zip(result["requests"], result["floor"])]
            print(f"{label}:")
            print(f"  floor (http.client) {_us(result['floor'])} us per call (medians per round); "
                  f"bare requests {_us(result['requests'])} us; ours {_us(result['ours'])} us")
            print(f"  ours over the floor {_us(overhead)} us (median {statistics.median(overhead) * 1e3:.2f} ms, ratio "
                  f"{statistics.median(o / f for o, f in zip(result['ours'], result['floor'])):.2f}); of which bare "
                  f"requests alone {_us(library)} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
