"""Every wrong setting fails before any request, with one line naming the setting."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tap_pagerduty.settings import Settings, SettingsError

TOKEN = "s3cr3t-token-value"


def settings(**config: object) -> Settings:
    return Settings.from_config({"api_token": TOKEN, **config})


def test_defaults_and_auth_header() -> None:
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    s = Settings.from_config({"api_token": TOKEN}, now=now)
    assert s.base_url == "https://api.pagerduty.com"
    assert s.authorization == f"Token token={TOKEN}"
    assert s.anchor_date == datetime(2025, 11, 1, tzinfo=timezone.utc)
    assert (s.requests_per_second, s.max_concurrency, s.page_size) == (5.0, 3, 100)
    assert s.request_timeout == 30.0


def test_numbers_may_come_as_strings_or_decimals() -> None:
    from decimal import Decimal

    s = settings(requests_per_second=Decimal("1000.0"), page_size="50", request_timeout="12.5")
    assert (s.requests_per_second, s.page_size, s.request_timeout) == (1000.0, 50, 12.5)


def test_oauth_region_and_api_url() -> None:
    s = Settings.from_config({"oauth_token": "abc", "region": "eu"})
    assert s.authorization == "Bearer abc"
    assert s.base_url == "https://api.eu.pagerduty.com"
    assert settings(api_url="http://127.0.0.1:9/").base_url == "http://127.0.0.1:9"
    assert settings(api_url="https://proxy.example/pd").base_url == "https://proxy.example/pd"


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({}, "api_token"),
        ({"api_token": "a", "oauth_token": "b"}, "oauth_token"),
        ({"api_token": "a", "region": "asia"}, "region"),
        ({"api_token": "a", "anchor_date": "last tuesday"}, "anchor_date"),
        ({"api_token": "a", "anchor_date": "2024-06-01", "end_date": "2024-01-01"}, "end_date"),
        ({"api_token": "a", "page_size": 0}, "page_size"),
        ({"api_token": "a", "page_size": 101}, "page_size"),
        ({"api_token": "a", "requests_per_second": "fast"}, "requests_per_second"),
        ({"api_token": "a", "max_concurrency": 0}, "max_concurrency"),
        ({"api_token": "a", "api_url": "http://pagerduty.example.com"}, "api_url"),
        ({"api_token": "a", "api_url": "not a url"}, "api_url"),
        ({"api_token": "a", "oncall_days": 120}, "oncall_days"),
    ],
)
def test_bad_setting_is_named(config: dict, setting: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_config(config)
    message = str(error.value)
    assert f"'{setting}'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({}, "api_token"),
        ({"api_token": TOKEN, "oauth_token": TOKEN}, "oauth_token"),
        ({"api_token": TOKEN, "region": "mars"}, "region"),
        ({"api_token": TOKEN, "end_date": "2020-01-01", "anchor_date": "2021-01-01"}, "end_date"),
        ({"api_token": TOKEN, "page_size": 0}, "page_size"),
        ({"api_token": TOKEN, "api_url": "http://10.1.2.3"}, "api_url"),
    ],
)
def test_cli_reports_bad_setting_in_one_line(tmp_path, config: dict, setting: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    # api_url points nowhere reachable: a request would fail differently, so none may be sent.
    run = subprocess.run(
        [sys.executable, "-m", "tap_pagerduty", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert run.stdout == ""
    errors = [line for line in run.stderr.splitlines() if "tap-pagerduty:" in line]
    assert len(errors) == 1, run.stderr
    assert f"'{setting}'" in errors[0]
    assert "Traceback" not in run.stderr
    assert TOKEN not in run.stderr
