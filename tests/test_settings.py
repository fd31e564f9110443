"""Every wrong setting fails before any request, with one line naming the setting."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tap_pagerduty.settings import Settings, SettingsError
from tests.support.cli import run_cli

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
    run = run_cli(["--config", str(path)], timeout=60)
    assert run.returncode != 0
    assert run.stdout == ""
    errors = [line for line in run.stderr.splitlines() if "tap-pagerduty:" in line]
    assert len(errors) == 1, run.stderr
    assert f"'{setting}'" in errors[0]
    assert "Traceback" not in run.stderr
    assert TOKEN not in run.stderr


NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("config", "setting", "words"),
    [
        ({"anchor_date": "2026-11-02"}, "anchor_date", "future"),
        ({"end_date": "2026-11-01T00:00:01Z"}, "end_date", "future"),
        ({"start_date": "2027-01-01"}, "start_date", "future"),
        ({"anchor_date": 20240101}, "anchor_date", "number"),
        ({"end_date": 1.5}, "end_date", "number"),
        ({"api_token": 4711471147114711}, "api_token", "number"),
        ({"api_token": ["a", "b"]}, "api_token", "text"),
        ({"api_token": f"{TOKEN}\nX"}, "api_token", "line break"),
        ({"api_token": None, "oauth_token": f"{TOKEN}\r\nX"}, "oauth_token", "line break"),
        ({"user_agent": "my-agent\r\nX-Injected: 1"}, "user_agent", "line break"),
        ({"user_agent": "agent\x00"}, "user_agent", "control"),
        ({"api_url": "http://127.0.0.1:9/\npath"}, "api_url", "line break"),
        ({"api_url": 8080}, "api_url", "text"),
        ({"region": 1}, "region", "text"),
        ({"anchor_date": "2024-01-01", "start_date": "2024-02-01"}, "start_date", "differ"),
    ],
)
def test_future_dates_control_characters_and_wrong_types_are_refused(
    config: dict, setting: str, words: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_config({"api_token": TOKEN, **config}, now=NOW)
    message = str(error.value)
    assert f"'{setting}'" in message and words in message, message
    assert "\n" not in message and "\r" not in message
    assert TOKEN not in message and "4711471147114711" not in message


def test_start_date_is_an_alias_of_anchor_date() -> None:
    s = Settings.from_config({"api_token": TOKEN, "start_date": "2026-01-01T00:00:00Z"}, now=NOW)
    assert s.anchor_date == datetime(2026, 1, 1, tzinfo=timezone.utc)
    same = {"anchor_date": "2026-01-01", "start_date": "2026-01-01T00:00:00Z"}
    assert settings(**same).anchor_date == s.anchor_date
    # A past end_date and dates given as datetime objects are fine.
    past = datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert Settings.from_config({"api_token": TOKEN, "end_date": past}, now=NOW).end_date == past


def test_unknown_settings_warn_once_and_sdk_settings_do_not(caplog) -> None:
    from tap_pagerduty.tap import TapPagerDuty

    config = {
        "api_token": TOKEN,
        "anchor_dat": "2026-01-01",
        "page_sise": 10,
        "stream_maps": {},
        "stream_map_config": {},
        "faker_config": {},
        "flattening_enabled": False,
        "flattening_max_depth": 1,
        "batch_config": None,
    }
    tap = TapPagerDuty(config=config, parse_env_config=False)
    tap.settings  # noqa: B018 - settings are read when the run starts
    warnings = [r.getMessage() for r in caplog.records if "unknown setting" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "'anchor_dat'" in warnings[0] and "'page_sise'" in warnings[0]
    for known in ("stream_maps", "flattening", "batch_config", "faker_config"):
        assert known not in warnings[0]


@pytest.mark.parametrize(
    "config",
    [
        {"api_token": f"{TOKEN}\ninner", "anchor_date": "2025-01-01"},
        {"api_token": TOKEN, "user_agent": f"agent\r\n{TOKEN}"},
        {"api_token": TOKEN, "anchor_date": "2999-01-01"},
        {"api_token": 4711471147114711},
    ],
)
def test_cli_refuses_before_any_request_without_printing_the_value(tmp_path, config) -> None:
    from pagerduty_emulator import Emulator

    with Emulator(seed=1, incidents=5, days=5, now="2026-11-01T00:00:00Z") as emulator:
        path = tmp_path / "config.json"
        path.write_text(json.dumps({**config, "api_url": emulator.url}))
        run = run_cli(["--config", str(path), "--log-level", "debug"], timeout=60)
        assert emulator.stats()["requests"] == 0
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-pagerduty: configuration error: Setting '"), run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    for secret in (TOKEN, "inner", "4711471147114711"):
        assert secret not in run.stderr + run.stdout


def test_meltano_settings_match_the_tap_schema() -> None:
    """Every setting meltano.yml declares exists in the tap's schema (or the SDK's built-in
    ones), with the same default where meltano.yml gives one, and the numeric bounds the
    checks enforce are the schema's."""
    from pathlib import Path

    import yaml

    from tap_pagerduty.settings import BOUNDS
    from tap_pagerduty.tap import TapPagerDuty

    project = yaml.safe_load((Path(__file__).resolve().parents[1] / "meltano.yml").read_text())
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-pagerduty")
    schema = TapPagerDuty.config_jsonschema["properties"]
    known = TapPagerDuty.known_settings()
    for setting in extractor["settings"]:
        name = setting["name"]
        assert name in known, f"meltano.yml declares {name!r}, which the tap does not read"
        if "value" in setting and name in schema:
            assert setting["value"] == schema[name].get("default"), name
    for name, (low, high, _whole) in BOUNDS.items():
        assert (schema[name]["minimum"], schema[name]["maximum"]) == (low, high), name
        with pytest.raises(SettingsError, match=name):
            Settings.from_config({"api_token": TOKEN, name: high + 1})


@pytest.mark.parametrize(
    ("config", "setting", "words"),
    [
        # Rules the schema carries: the SDK finds them, the line is the tap's.
        ({"page_size": 500}, "page_size", "from 1 to 100"),
        ({"region": "asia"}, "region", "'us' or 'eu'"),
        ({"user_agent": "agent\r\nX-Injected: 1"}, "user_agent", "line break"),
        # Only the schema knows this one (an SDK setting): the SDK's words, in one line.
        ({"flattening_max_depth": "deep"}, "flattening_max_depth", "not of type 'integer'"),
        # A whole-number setting given a fraction as text.
        ({"page_size": "2.5"}, "page_size", "whole number"),
    ],
)
def test_the_sdk_validates_the_schema_and_the_error_is_one_line(
    config: dict, setting: str, words: str
) -> None:
    from tap_pagerduty.tap import TapPagerDuty

    with pytest.raises(SettingsError) as error:
        TapPagerDuty(config={"api_token": TOKEN, **config}, parse_env_config=False)
    message = str(error.value)
    assert f"'{setting}'" in message and words in message, message
    assert "\n" not in message and TOKEN not in message


def test_the_schema_carries_every_bound_and_the_sdk_checks_it(monkeypatch) -> None:
    """The SDK's validation is on: a value out of a schema bound fails in the SDK even when
    the tap's own check would let it through."""
    from tap_pagerduty.settings import BOUNDS, CONFIG_SCHEMA
    from tap_pagerduty.tap import TapPagerDuty

    for name, (low, high, _) in BOUNDS.items():
        schema = CONFIG_SCHEMA["properties"][name]
        assert (schema["minimum"], schema["maximum"]) == (low, high), name
    seen: list[list[str]] = []

    def record(config: object, errors: list[str]) -> str:
        seen.append(list(errors))
        return "rejected"

    monkeypatch.setattr("tap_pagerduty.tap.schema_error_line", record)
    with pytest.raises(SettingsError, match="rejected"):
        TapPagerDuty(config={"api_token": TOKEN, "oncall_days": 91}, parse_env_config=False)
    assert seen and "91 is greater than the maximum of 90" in seen[0][0], seen


def test_numbers_as_meltano_and_json_files_pass_them_reach_the_sdk_as_numbers() -> None:
    from decimal import Decimal

    from tap_pagerduty.tap import TapPagerDuty

    config = {"api_token": TOKEN, "requests_per_second": "2.5", "page_size": Decimal("50")}
    tap = TapPagerDuty(config=config, parse_env_config=False)
    assert (tap.config["requests_per_second"], tap.config["page_size"]) == (2.5, 50)
    assert (tap.settings.requests_per_second, tap.settings.page_size) == (2.5, 50)


def test_decimals_from_the_environment_are_read_and_bounded(monkeypatch) -> None:
    """With `--config ENV` the SDK leaves decimals as text: the schema takes text that reads
    as a number, and the tap's own check bounds it."""
    from tap_pagerduty.tap import TapPagerDuty

    monkeypatch.setenv("TAP_PAGERDUTY_API_TOKEN", TOKEN)
    monkeypatch.setenv("TAP_PAGERDUTY_REQUEST_TIMEOUT", "12.5")
    monkeypatch.setenv("TAP_PAGERDUTY_PAGE_SIZE", "50")
    tap = TapPagerDuty(config={}, parse_env_config=True)
    assert (tap.settings.request_timeout, tap.settings.page_size) == (12.5, 50)
    for value, words in (("fast", "must be a number"), ("5000", "from 1 to 600")):
        monkeypatch.setenv("TAP_PAGERDUTY_REQUEST_TIMEOUT", value)
        with pytest.raises(SettingsError) as error:
            TapPagerDuty(config={}, parse_env_config=True)
        message = str(error.value)
        assert "'request_timeout'" in message and words in message, message
        assert TOKEN not in message and "\n" not in message
    monkeypatch.setenv("TAP_PAGERDUTY_REQUEST_TIMEOUT", "12.5")
    monkeypatch.setenv("TAP_PAGERDUTY_PAGE_SIZE", "fifty")  # the SDK's int() fails unnamed
    with pytest.raises(SettingsError, match=r"'page_size' \(environment variable TAP_PAG"):
        TapPagerDuty(config={}, parse_env_config=True)
