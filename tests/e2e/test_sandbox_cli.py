"""The ``sandbox`` command's arguments and the session log file."""

from __future__ import annotations

import argparse
import os
import socket
import stat

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
    assert (args.port, args.host, args.master_size, args.log, args.func) == (None, "127.0.0.1", 4000, None, cli.run)
    config = cli.config_from_args(args)
    assert (config.port, config.feed_port) == (cli.DEFAULT_PORT, cli.DEFAULT_PORT + 1)
    # clear of OpenAlgo's defaults: Flask 5000, WebSocket proxy 8765, ZMQ 5555
    assert not {config.port, config.feed_port} & {5000, 8765, 5555}


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


# ------------------------------------------------------------------ ports and files


@pytest.fixture
def busy_port():
    """A port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def _launch(tmp_path, *argv: str):
    return cli.launch(_parse("--quiet", "--tick", "0", "--master-size", "0",
                             "--env-out", str(tmp_path / "sandbox.env"), *argv))


def test_an_explicit_busy_port_is_one_line_and_a_non_zero_exit(tmp_path, busy_port, capsys):
    assert _launch(tmp_path, "--port", str(busy_port)) == 1
    captured = capsys.readouterr()
    assert captured.err == f"port {busy_port} is in use; pass --port with a free port\n"
    assert captured.out == "" and not (tmp_path / "sandbox.env").exists()


def test_an_explicit_busy_feed_port_names_its_flag(tmp_path, busy_port, capsys):
    assert _launch(tmp_path, "--port", "0", "--ws-port", str(busy_port)) == 1
    assert capsys.readouterr().err == f"port {busy_port} is in use; pass --ws-port with a free port\n"


def test_a_busy_default_port_falls_back_to_a_free_one(tmp_path, busy_port, capsys, monkeypatch):
    monkeypatch.setattr(cli, "DEFAULT_PORT", busy_port)
    server = _launch(tmp_path)
    try:
        out = capsys.readouterr().out
        assert out.splitlines()[0] == f"port {busy_port} is in use; the sandbox took a free port instead (see the .env lines below)"
        port = int(server.base_url.rsplit(":", 1)[1])
        assert port != busy_port
        assert f"MSTOCK_BASE_URL={server.base_url}" in out
    finally:
        server.stop()


def test_the_env_file_points_at_the_sandboxs_own_database_and_session(tmp_path, capsys):
    server = _launch(tmp_path, "--port", "0")
    server.stop()
    out = capsys.readouterr().out
    env = dict(line.split("=", 1) for line in (tmp_path / "sandbox.env").read_text().splitlines())
    data = (tmp_path / "sandbox-data").resolve()
    assert env["DATABASE_URL"] == f"sqlite:///{data.as_posix()}/symbols.db"
    assert env["MSTOCK_SESSION_FILE"] == str(data / "session.json")
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert f"DATABASE_URL=sqlite:///{data.as_posix()}/symbols.db" in out
    for name in ("BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET", "MSTOCK_OTP"):
        assert env[name] not in out
        assert f"{name}=*** ({len(env[name])} characters)" in out
    assert "Traceback" not in out


def test_a_data_dir_flag_moves_the_sandboxs_files(tmp_path, capsys):
    server = _launch(tmp_path, "--port", "0", "--data-dir", str(tmp_path / "elsewhere"))
    server.stop()
    env = dict(line.split("=", 1) for line in (tmp_path / "sandbox.env").read_text().splitlines())
    assert env["MSTOCK_SESSION_FILE"] == str((tmp_path / "elsewhere").resolve() / "session.json")


# ------------------------------------------------------------------ knobs


def test_every_knob_flag_reaches_the_config():
    args = _parse(
        "--strict-rate-limits", "--rate-limit-shape", "http-200", "--arrival-jitter-ms", "25",
        "--idle-timeout", "4.5", "--connect-latency-ms", "120", "--quote-cap", "50", "--quote-full", "refuse",
        "--history-bar-limit", "500", "--history-over-limit", "refuse", "--hourly-labels", "end",
        "--index-set", "extended", "--feed-framing", "big-endian", "--currency-divisor", "10000000",
        "--feed-epoch", "utc", "--depth-side-flag", "66=buy,83=sell", "--depth-order", "asks-first",
        "--order-frames", "legacy", "--feed-max-sockets", "1", "--feed-socket-policy", "evict",
        "--no-ordertag-echo", "--partial-fill-status", "Partially Traded",
    )
    config = cli.config_from_args(args)
    assert (config.strict_rate_limits, config.rate_limit_data_window, config.rate_limit_shape) == (True, 1.0, "http-200")
    assert (config.arrival_jitter_ms, config.idle_timeout, config.connect_latency_ms) == (25.0, 4.5, 120.0)
    assert (config.quote_token_cap, config.quote_full) == (50, "refuse")
    assert (config.history_bar_limit, config.history_over_limit, config.hourly_labels) == (500, "refuse", "end")
    assert len(config.index_spots) > 6
    assert (config.feed_framing, config.currency_divisor, config.feed_epoch) == ("big-endian", 10_000_000, "utc")
    assert (config.depth_side_flag, config.depth_order, config.order_frame_shape) == ((66, 83), "asks-first", "legacy")
    assert (config.feed_max_sockets, config.feed_socket_policy) == (1, "evict")
    assert (config.ordertag_echo, config.partial_fill_status) == (False, "Partially Traded")


@pytest.mark.parametrize("argv, problem", [
    (("--depth-side-flag", "1=buy"), "give one number for buy and one for sell"),
    (("--feed-max-sockets", "0"), "must be at least 1"),
    (("--quote-full", "fancy"), "invalid choice: 'fancy'"),
    (("--idle-timeout", "0"), "must be more than 0"),
    (("--port", "99999"), "a port is 0 (any free port) to 65535, not 99999"),
    (("--ws-port", "-1"), "a port is 0 (any free port) to 65535, not -1"),
    (("--port", "abc"), "argument --port: expected a whole number, not 'abc'"),
])
def test_bad_flag_values_are_one_clear_error(argv, problem, capsys):
    with pytest.raises(SystemExit) as caught:
        _parse(*argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and problem in err and "Traceback" not in err


def test_help_has_one_entry_per_knob_and_cites_no_document(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--quote-cap", "--quote-full", "--history-bar-limit", "--hourly-labels", "--feed-framing",
                 "--currency-divisor", "--feed-epoch", "--depth-side-flag", "--no-ordertag-echo",
                 "--rate-limit-shape", "--index-set", "--feed-max-sockets", "--feed-socket-policy",
                 "--strict-rate-limits", "--arrival-jitter-ms", "--idle-timeout", "--connect-latency-ms",
                 "--order-frames", "--depth-order", "--history-over-limit", "--partial-fill-status"):
        assert text.count(f"  {flag}") == 1, flag
    assert "spec " not in text.lower() and "contract " not in text.lower()


def test_an_env_file_that_cannot_be_written_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = cli.launch(_parse("--quiet", "--tick", "0", "--master-size", "0", "--port", "0",
                               "--env-out", str(blocker / "sandbox.env"), "--data-dir", str(tmp_path / "data")))
    err = capsys.readouterr().err
    assert result == 1
    assert err.startswith("error: cannot write ") and err.count("\n") == 1 and "Traceback" not in err
