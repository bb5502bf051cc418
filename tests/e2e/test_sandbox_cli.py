"""The ``sandbox`` command's arguments and the session log file."""

from __future__ import annotations

import argparse

import pytest

from mstock_sandbox import SandboxConfig, SandboxServer, cli
from mstock_sandbox.master import generate_master

from .conftest import make_client

pytestmark = pytest.mark.e2e


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sandbox", *argv])


def test_sandbox_command_defaults():
    args = _parse()
    assert (args.port, args.host, args.master_size, args.log, args.func) == (cli.DEFAULT_PORT, "127.0.0.1", 4000, None, cli.run)


def test_sandbox_refuses_to_listen_beyond_loopback(capsys):
    assert cli.run(_parse("--host", "0.0.0.0")) == 2
    assert "loopback only" in capsys.readouterr().err


def test_session_log_file(tmp_path):
    log_file = tmp_path / "logs" / "sandbox.log"
    config = SandboxConfig(port=0, start_feed=False, log_file=log_file, master_rows=generate_master(0))
    with SandboxServer(config) as server:
        make_client(server, server.issue_session().access_token).call("orders.list")
    lines = log_file.read_text().splitlines()
    assert "sandbox up at" in lines[0]
    assert "GET    orders.list" in lines[1] and lines[1].endswith("200  0 orders")
