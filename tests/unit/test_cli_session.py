"""CLI: login, funds, logout, and clear errors for missing configuration."""

from __future__ import annotations

from broker.mstock.cli import main

from ..helpers import ACCESS_TOKEN, PASSWORD, TOTP_SECRET, add_route


def test_login_prints_who_and_when_never_the_token(mock_api, monkeypatch, capsys):
    monkeypatch.setenv("MSTOCK_PASSWORD", PASSWORD)
    monkeypatch.setenv("MSTOCK_TOTP_SECRET", TOTP_SECRET)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    assert main(["login"]) == 0
    out = capsys.readouterr().out
    assert "MA*****01" in out
    assert "RAHUL KUMAR" in out
    assert "token expires" in out
    assert ACCESS_TOKEN not in out


def test_funds_table_after_login(mock_api, monkeypatch, capsys):
    monkeypatch.setenv("MSTOCK_PASSWORD", PASSWORD)
    monkeypatch.setenv("MSTOCK_TOTP_SECRET", TOTP_SECRET)
    add_route(mock_api, "auth.login", case="ok")
    add_route(mock_api, "auth.verify_totp", case="ok")
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="null")  # funds take the day's P&L from here
    add_route(mock_api, "auth.logout", case="ok")
    assert main(["login"]) == 0
    assert main(["funds"]) == 0
    out = capsys.readouterr().out
    assert "availablecash" in out
    assert "299972678840.29" in out
    assert main(["logout"]) == 0
    assert "logged out" in capsys.readouterr().out


def test_funds_without_login_says_what_to_do(capsys):
    assert main(["funds"]) == 1
    assert "log in first with `mstock-openalgo login`" in capsys.readouterr().err


def test_login_without_configuration_names_the_variables(capsys):
    assert main(["login"]) == 1
    err = capsys.readouterr().err
    assert "MSTOCK_PASSWORD" in err and "MSTOCK_TOTP_SECRET" in err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: mstock-openalgo" in capsys.readouterr().out
