"""Configuration is read at call time, validated with messages naming the variable."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from broker.mstock import config
from broker.mstock.errors import ConfigError
from broker.mstock.local import session_file as session_store
from broker.mstock.local.session_file import IST


def test_settings_follow_the_environment_at_call_time(monkeypatch):
    assert config.settings().client_code == "MA6800001"
    monkeypatch.setenv("BROKER_API_KEY", "MA6899999")
    assert config.settings().client_code == "MA6899999"


def test_defaults(monkeypatch):
    monkeypatch.delenv("MSTOCK_BASE_URL")
    settings = config.settings()
    assert settings.base_url == "https://api.mstock.trade"
    assert settings.ws_url == "wss://ws.mstock.trade"
    assert settings.api_root == "https://api.mstock.trade/openapi/typeb"


def test_missing_variables_are_named(monkeypatch):
    monkeypatch.delenv("BROKER_API_SECRET")
    with pytest.raises(ConfigError) as caught:
        config.settings().require("BROKER_API_KEY", "BROKER_API_SECRET", "MSTOCK_PASSWORD")
    assert str(caught.value) == (
        "missing configuration: set BROKER_API_SECRET (your mStock Type B API key (Trading APIs page on trade.mstock.com)); "
        "MSTOCK_PASSWORD (your mStock trading password (only for headless CLI login)) in .env"
    )


def test_quotes_around_values_are_ignored(monkeypatch):
    monkeypatch.setenv("BROKER_API_KEY", '"MA6811111"')
    assert config.settings().client_code == "MA6811111"


def test_secrets_are_not_in_repr(monkeypatch):
    monkeypatch.setenv("MSTOCK_PASSWORD", "pw-123456")
    text = repr(config.settings())
    assert "pw-123456" not in text
    assert "test-api-key" not in text


@pytest.mark.parametrize("url", ["http://api.mstock.trade", "ftp://x", "http://10.0.0.5:8000"])
def test_cleartext_remote_urls_are_refused(monkeypatch, url):
    monkeypatch.setenv("MSTOCK_BASE_URL", url)
    with pytest.raises(ConfigError):
        config.settings()


def test_a_refused_url_is_shown_without_its_credentials(monkeypatch):
    monkeypatch.setenv("MSTOCK_BASE_URL", "http://trader:pa55word@example.com:8080/api?key=k3y")
    with pytest.raises(ConfigError) as caught:
        config.settings()
    assert str(caught.value) == (
        "refusing 'http://example.com:8080/api': use https:// (plain http:// is allowed only for 127.0.0.1/localhost)"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"])
def test_loopback_cleartext_is_allowed(monkeypatch, url):
    monkeypatch.setenv("MSTOCK_BASE_URL", url)
    assert config.settings().base_url == url


def test_session_expires_at_ist_midnight_or_after_twelve_hours():
    morning = datetime(2026, 11, 25, 8, 0, tzinfo=IST)
    evening = datetime(2026, 11, 25, 20, 0, tzinfo=IST)
    assert session_store.expiry_for(morning) == datetime(2026, 11, 25, 20, 0, tzinfo=IST)
    assert session_store.expiry_for(evening) == datetime(2026, 11, 26, 0, 0, tzinfo=IST)


def test_expired_or_foreign_session_files_are_ignored(tmp_path):
    path = tmp_path / "s.json"
    old = session_store.new_session("tok-old-12345", None, client_code="MA1", base_url="https://x", now=datetime.now(IST) - timedelta(days=1))
    session_store.save(path, old)
    assert session_store.load(path) is None
    fresh = session_store.new_session("tok-new-12345", "feed", client_code="MA1", base_url="https://x")
    session_store.save(path, fresh)
    assert session_store.load(path, client_code="MA1", base_url="https://x") == fresh
    assert session_store.load(path, client_code="MA2") is None
    assert session_store.load(path, base_url="http://127.0.0.1:1") is None


def test_dotenv_does_not_override_the_shell(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("BROKER_API_KEY=FROM_FILE\nMSTOCK_PASSWORD=from-file\n")
    monkeypatch.setattr(config, "_dotenv_loaded", False)
    monkeypatch.delenv("MSTOCK_PASSWORD", raising=False)
    config.load_dotenv_once(env)
    assert config.settings().client_code == "MA6800001"
    assert config.settings().password == "from-file"
