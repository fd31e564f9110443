"""The scopes asked for under OAuth are those of every request the selected streams send:
their own, the listings they read to filter or decide, and their parents' (a child selected
alone); a missing one is named exactly, with the stream."""

from __future__ import annotations

import pytest

from tap_pagerduty import oauth, spec_table
from tap_pagerduty.tap import TapPagerDuty
from tests.support.spec_check import request_log, scopes_used, undeclared
from tests.support.tap_runs import (
    assert_matches_truth,
    catalog_for,
    config_for,
    run_in_process,
)
from tests.test_oauth import CLIENT_ID, NOW, SECRET, oauth_config

ALL_SCOPES = {op.scope for op in spec_table.operations() if op.scope}
CLIENT = {"oauth_client_id": "a", "oauth_client_secret": "b", "oauth_subdomain": "acme"}


def asked(streams: list[str], **config) -> set[str]:
    tap = TapPagerDuty(
        config={**CLIENT, **config}, catalog=catalog_for(streams), parse_env_config=False
    )
    return set(oauth.selected_scopes(tap.streams.values(), tap.settings)) - {"abilities.read"}


@pytest.mark.parametrize(
    ("streams", "scopes"),
    [
        # The spec lists GET /users (contact methods included) under users.read alone.
        (["users"], {"users.read"}),
        (["user_contact_methods"], {"users.read"}),
        (["user_notification_rules"], {"users.read", "users:contact_methods.read"}),
        (["schedule_users"], {"schedules.read", "users.read"}),
        (["incident_custom_fields"], {"incident_types.read", "custom_fields.read"}),
        # The values need services.read; the field definitions tell whether any exist.
        (["service_custom_field_values"], {"services.read", "custom_fields.read"}),
        (["analytics_metrics_teams"], {"analytics.write", "services.read"}),
        (["analytics_metrics_responders"], {"analytics.write", "teams.read"}),
        (["analytics_incidents"], {"analytics.write", "services.read"}),
        (["incident_alerts"], {"incidents.read", "analytics.write", "services.read"}),
    ],
)
def test_scopes_follow_every_request_of_the_selected_streams(streams, scopes) -> None:
    assert asked(streams) == scopes


def test_the_analytics_filter_setting_decides_the_listing_read() -> None:
    assert asked(["analytics_metrics_services"], analytics_filter="team_ids") == {
        "analytics.write",
        "teams.read",
    }
    assert asked(["analytics_metrics_services"], analytics_filter="none") == {"analytics.write"}


# Each scope that only a parent or a filter listing needs comes from one stream of a group
# alone, so the groups prove what separate runs would, in fewer runs.
@pytest.mark.parametrize(
    "streams",
    [
        # users.read: the parent's; incident_types.read: the parent's; services.read: the filter's
        ["user_contact_methods", "incident_custom_fields", "analytics_metrics_services"],
        # schedules.read: the parent's; teams.read and services.read: the filters'
        ["schedule_users", "analytics_metrics_responders", "analytics_incidents"],
    ],
)
def test_a_stream_alone_syncs_with_exactly_the_scopes_asked(emulator_factory, streams) -> None:
    emulator = emulator_factory(seed=61, incidents=30, days=20, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    with_key = run_in_process(config_for(emulator), streams)
    emulator.reset_stats()
    output = run_in_process(oauth_config(emulator), streams)
    (granted,) = [scopes for _expiry, scopes in emulator.extras.oauth_tokens.values()]
    log = request_log(emulator)
    assert scopes_used(log) <= granted and not undeclared(log)
    assert all(s == "200" for by in emulator.stats()["by_path"].values() for s in by)
    for stream in streams:
        assert with_key.records.get(stream), f"{stream}: nothing to compare"
        assert_matches_truth(stream, output.records.get(stream, []), with_key.records[stream])


def test_a_missing_filter_scope_is_named_with_the_stream(emulator_factory, caplog) -> None:
    emulator = emulator_factory(seed=62, incidents=30, days=20, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    config = oauth_config(emulator, oauth_scopes="analytics.write abilities.read")
    run_in_process(config, ["analytics_metrics_services"])  # no error: the stream is optional
    (line,) = [r.getMessage() for r in caplog.records if "Skipping optional" in r.getMessage()]
    assert "'analytics_metrics_services'" in line
    assert "needs OAuth scope 'services.read' for GET /services" in line, line


def test_an_app_without_analytics_still_syncs_incidents(emulator_factory, caplog) -> None:
    """`oauth_scopes` without the change feed's scope: the feed falls back to the look-back,
    and the one warning names the scope, the request and what is not covered."""
    emulator = emulator_factory(seed=63, incidents=40, days=20, now=NOW, rate_limit=0)
    emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
    config = oauth_config(emulator, oauth_scopes="abilities.read incidents.read services.read")
    first = run_in_process(config, ["incidents"])
    emulator.advance(1)
    caplog.clear()
    run_in_process(config, ["incidents"], first.last_state)
    messages = [r.getMessage() for r in caplog.records]
    (line,) = [m for m in messages if "analytics is not available" in m]
    assert "needs OAuth scope 'analytics.write' for POST /analytics/raw/incidents" in line
    assert "created in the last 7 days" in line


def test_a_refused_request_names_its_exact_scope_and_operation() -> None:
    settings = TapPagerDuty(config=CLIENT, parse_env_config=False).settings
    line = oauth.hint(
        settings, "user_notification_rules", "GET /users/PX1/notification_rules", 403, "usual"
    )
    assert line == (
        "usual; stream 'user_notification_rules' needs OAuth scope 'users:contact_methods.read' "
        "for GET /users/{id}/notification_rules: grant it to the app (and list it in "
        "'oauth_scopes' if set), or deselect the stream"
    )
    with_key = TapPagerDuty(config={"api_token": "k"}, parse_env_config=False).settings
    assert oauth.hint(with_key, "users", "GET /users", 403, "usual") == "usual"
