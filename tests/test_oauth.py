"""Scoped OAuth with client credentials against the emulator's identity endpoint."""

from __future__ import annotations

import pytest

from tap_pagerduty import spec_table
from tap_pagerduty.settings import Settings, SettingsError
from tests.support.spec_check import request_log, scopes_used, undeclared
from tests.support.tap_runs import config_for, latest_by_key, run_in_process, run_process

NOW = "2026-11-01T00:00:00Z"
CLIENT_ID = "tap-client-7f3a"
SECRET = "s3cr3t-Client-Value-91b2"
ALL_SCOPES = {op.scope for op in spec_table.operations() if op.scope}
SOME_STREAMS = ["users", "teams", "team_members", "schedules", "oncalls", "incidents", "licenses"]


def error_line(stderr: str) -> str:
    """The run's one error line (worker threads may still log after it)."""
    (line,) = [line for line in stderr.splitlines() if line.startswith("tap-pagerduty: ")]
    return line


def oauth_config(emulator, **overrides) -> dict:
    config = config_for(
        emulator,
        oauth_client_id=CLIENT_ID,
        oauth_client_secret=SECRET,
        oauth_subdomain="emulator",
        oauth_token_url=f"{emulator.url}/oauth/token",
        **overrides,
    )
    del config["api_token"]
    return config


def test_sync_with_expiring_app_tokens_equals_api_key_sync(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=41, incidents=150, days=200, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES, ttl=0.5)
    with_key = run_in_process(config_for(emulator))
    emulator.reset_stats()
    with_oauth = run_process(
        oauth_config(emulator, requests_per_second=200),
        tmp_path,
        extra_args=("--log-level", "debug"),
    )
    assert with_oauth.returncode == 0, with_oauth.stderr[-2000:]
    assert set(with_oauth.records) == set(with_key.records)
    for stream, records in with_key.records.items():
        assert latest_by_key(stream, with_oauth.records[stream]) == latest_by_key(stream, records)
    # Tokens expired mid-run and were renewed before PagerDuty refused one.
    assert emulator.extras.oauth_issued >= 3
    by_path = emulator.stats()["by_path"]
    assert all(status == "200" for by in by_path.values() for status in by), by_path
    # Exact: every scope asked for is used, every request is as the spec declares it.
    granted = set().union(*(scopes for _expiry, scopes in emulator.extras.oauth_tokens.values()))
    log = request_log(emulator)
    assert scopes_used(log) == granted and not undeclared(log)
    # Neither the secret nor any token is in the output or the debug log.
    tokens = list(emulator.extras.oauth_tokens)
    text = with_oauth.stderr + repr(with_oauth.records) + repr(with_oauth.states)
    assert "DEBUG" in with_oauth.stderr
    assert SECRET not in text
    assert not [t for t in tokens if t in text or t.split("+_")[1] in text]


def test_a_token_refused_before_its_time_is_renewed(emulator_factory) -> None:
    emulator = emulator_factory(seed=47, incidents=150, days=60, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES, ttl=0.5)
    emulator.extras.oauth_claimed_ttl = 86400  # says a day, dies after half a second
    streams = ["users", "user_notification_rules", "incidents", "incident_alerts"]
    output = run_in_process(oauth_config(emulator, requests_per_second=100), streams)
    assert len(output.records["incidents"]) == len(emulator.truth("incidents", since=None))
    assert len(output.records["incident_alerts"]) == len(emulator.truth("incident_alerts"))
    refused = sum(by.get("401", 0) for by in emulator.stats()["by_path"].values())
    assert refused >= 1 and emulator.extras.oauth_issued >= 2


def test_token_request_is_retried_like_any_other(emulator_factory) -> None:
    emulator = emulator_factory(seed=42, incidents=20, days=10, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    emulator.configure(fault_5xx=0.6)
    output = run_in_process(oauth_config(emulator, max_retries=20), ["priorities"])
    assert len(output.records["priorities"]) == len(emulator.truth("priorities"))
    token_answers = emulator.stats()["by_path"]["/oauth/token"]
    assert token_answers.get("200") == 1
    assert sum(n for status, n in token_answers.items() if status.startswith("5")) >= 1


def test_missing_scope_names_the_scope_and_the_stream(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=43, incidents=20, days=10, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    # The token gets every scope but on-calls' and licenses'.
    scopes = " ".join(sorted(ALL_SCOPES - {"oncalls.read", "licenses.read"}))
    output = run_process(oauth_config(emulator, oauth_scopes=scopes), tmp_path, SOME_STREAMS)
    assert output.returncode == 1
    last = error_line(output.stderr)
    assert last.startswith("tap-pagerduty: oncalls: GET /oncalls failed with HTTP 403"), last
    assert "stream 'oncalls' needs OAuth scope 'oncalls.read'" in last
    assert SECRET not in output.stderr


def test_optional_stream_without_its_scope_is_skipped(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=44, incidents=20, days=10, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    scopes = " ".join(sorted(ALL_SCOPES - {"licenses.read"}))
    output = run_process(oauth_config(emulator, oauth_scopes=scopes), tmp_path, SOME_STREAMS)
    assert output.returncode == 0, output.stderr[-1500:]
    assert "licenses" not in output.records
    assert len(output.records["incidents"]) == len(emulator.truth("incidents", since=None))
    skip = [
        line for line in output.stderr.splitlines() if "Skipping optional stream 'licenses'" in line
    ]
    assert skip and "needs OAuth scope 'licenses.read'" in skip[0], output.stderr[-1500:]


def test_refused_credentials_end_in_one_line_without_the_secret(emulator_factory, tmp_path):
    emulator = emulator_factory(seed=45, incidents=20, days=10, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, "another-secret", ALL_SCOPES)
    output = run_process(oauth_config(emulator), tmp_path, ["priorities"])
    assert output.returncode == 1
    last = error_line(output.stderr)
    assert "OAuth token request" in last and "HTTP 401" in last and "invalid_client" in last
    assert "'oauth_client_secret'" in last
    assert SECRET not in output.stderr
    # A scope the app was not granted: PagerDuty's "Invalid scope", with the scopes asked.
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, {"priorities.read"})
    output = run_process(oauth_config(emulator), tmp_path, ["priorities", "teams"])
    last = error_line(output.stderr)
    assert output.returncode == 1 and "Invalid scope" in last and "teams.read" in last


def test_default_scopes_cover_the_selected_streams(emulator_factory) -> None:
    emulator = emulator_factory(seed=46, incidents=20, days=10, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    run_in_process(oauth_config(emulator), ["teams", "team_members", "incidents"])
    (granted,) = [scopes for _expiry, scopes in emulator.extras.oauth_tokens.values()]
    # The incidents stream's analytics change feed: the query and its service id filter.
    assert granted == {
        "abilities.read",
        "teams.read",
        "incidents.read",
        "analytics.write",
        "services.read",
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"oauth_client_id": "a", "oauth_client_secret": "b"}, "'oauth_subdomain' is missing"),
        ({"oauth_client_id": "a", "oauth_subdomain": "acme"}, "'oauth_client_secret' is missing"),
        (
            {
                "oauth_client_id": "a",
                "oauth_client_secret": "b",
                "oauth_subdomain": "acme",
                "api_token": "x",
            },
            "'api_token' and 'oauth_client_id' are both set",
        ),
        (
            {"oauth_client_id": "a", "oauth_client_secret": "b", "oauth_subdomain": "a c"},
            "'oauth_subdomain' ('a c') is not a subdomain",
        ),
        (
            {
                "oauth_client_id": "a",
                "oauth_client_secret": "b",
                "oauth_subdomain": "acme",
                "oauth_token_url": "http://identity.example.com/oauth/token",
            },
            "'oauth_token_url' uses plain http",
        ),
    ],
)
def test_oauth_settings_errors_name_the_setting(config, message) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_config(config)


def test_oauth_settings_follow_the_region_and_hide_the_secret() -> None:
    base = {"oauth_client_id": "a", "oauth_client_secret": SECRET, "oauth_subdomain": "acme"}
    us = Settings.from_config(base).extra.oauth
    eu = Settings.from_config({**base, "region": "eu"}).extra.oauth
    assert us is not None and eu is not None
    assert us.token_url == "https://identity.pagerduty.com/oauth/token"
    assert eu.token_url == "https://identity.eu.pagerduty.com/oauth/token"
    assert (us.region, eu.region) == ("us", "eu")
    assert SECRET not in repr(us) and SECRET not in repr(Settings.from_config(base))


def test_tokens_refused_every_time_end_in_one_line(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=48, incidents=20, days=10, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES, ttl=0.0)
    emulator.extras.oauth_claimed_ttl = 86400
    output = run_process(oauth_config(emulator, max_retries=2), tmp_path, ["priorities"])
    assert output.returncode == 1
    last = error_line(output.stderr)
    assert "HTTP 401" in last and "PagerDuty refused the app token even after renewing" in last
    assert emulator.extras.oauth_issued == 3  # the first token and one per retry
    assert SECRET not in output.stderr
