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


def test_env_lines_go_to_a_private_file_and_the_terminal_sees_them_masked(tmp_path):
    import os
    import stat

    env = {"MSTOCK_BASE_URL": "http://127.0.0.1:8765", "BROKER_API_KEY": "MA6800001",
           "BROKER_API_SECRET": "sandbox-api-key-Zk3x@", "MSTOCK_TOTP_SECRET": "MSTOCKSANDBOXTOTPSECRETAB2345672",
           "MSTOCK_OTP": "123456"}
    path = tmp_path / "sandbox.env"
    cli.write_env_file(path, env)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().splitlines()[2] == "BROKER_API_SECRET=sandbox-api-key-Zk3x@"
    lines = cli.masked_env_lines(env)
    assert lines[:2] == ["MSTOCK_BASE_URL=http://127.0.0.1:8765", "BROKER_API_KEY=MA6800001"]
    assert lines[2:] == ["BROKER_API_SECRET=*** (21 characters)", "MSTOCK_TOTP_SECRET=*** (32 characters)",
                         "MSTOCK_OTP=*** (6 characters)"]
    printed = "\n".join(lines)
    for secret in ("sandbox-api-key-Zk3x@", "MSTOCKSANDBOXTOTPSECRETAB2345672", "123456"):
        assert secret not in printed
