"""The files around the code: licence, changelog, typing marker, the example configuration."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import broker.mstock

ROOT = Path(__file__).resolve().parents[2]


def _env_example() -> list[str]:
    return (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()


def test_env_example_activates_only_what_must_be_set():
    active = [line.split("=", 1)[0] for line in _env_example() if line.strip() and not line.startswith("#")]
    assert active == ["BROKER_API_KEY", "BROKER_API_SECRET", "REDIRECT_URL"]


def test_env_example_warns_before_the_standalone_only_variables():
    lines = _env_example()
    warning = next(i for i, line in enumerate(lines) if line.startswith("# WARNING: never put these lines in OpenAlgo's .env"))
    for name in ("DATABASE_URL", "MSTOCK_SESSION_FILE", "MSTOCK_HOST"):
        index = next(i for i, line in enumerate(lines) if line.startswith(f"# {name}="))
        assert index > warning


def test_env_example_names_every_variable_the_plugin_reads():
    text = "\n".join(_env_example())
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "broker" / "mstock").rglob("*.py"))
    read = set(re.findall(r'_env\("([A-Z_]+)"\)', code)) | {"MSTOCK_HOST"}
    # REDIRECT_URL and VALID_BROKERS are OpenAlgo's; ``doctor`` reads them to check them.
    assert read == {"BROKER_API_KEY", "BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET", "MSTOCK_BASE_URL",
                    "MSTOCK_WS_URL", "MSTOCK_SESSION_FILE", "DATABASE_URL", "MSTOCK_HOST", "MSTOCK_ORDER_UPDATES",
                    "ORDER_POLL_INTERVAL", "REDIRECT_URL", "VALID_BROKERS"}
    assert [name for name in sorted(read) if f"{name}=" not in text] == []


def test_the_licence_is_the_agpl():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == {"text": "AGPL-3.0-or-later"}


def test_changelog_and_typing_marker_ship():
    assert (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").startswith("# Changelog")
    assert (ROOT / "broker" / "mstock" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["broker.mstock"]


def test_one_version_number():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["dynamic"] == ["version"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "broker.mstock.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", broker.mstock.__version__)


def test_the_cli_extra_is_optional_and_covers_the_libraries():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    names = {re.split(r"[<>=;\[ ]", requirement)[0] for requirement in extras["cli"]}
    assert names == {"rich", "platformdirs", "argcomplete", "colorama"}
