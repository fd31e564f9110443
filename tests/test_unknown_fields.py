"""Fields PagerDuty sends that a stream's schema does not list are kept, not dropped.

The emulator's `novel_fields` adds undocumented fields real accounts send (`billed` on users,
`send_html_email` on contact methods, `parent` on teams, `integration_key` on integrations).
By default they land in each record's `_extra` column, in the record's own shape; with
`unknown_fields: drop` they are dropped as before (with the SDK's warning). DuckDB and
Postgres: tests/test_analytics.py.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from tap_pagerduty.output import unlisted_parts
from tap_pagerduty.tap import TapPagerDuty
from tests.support.tap_runs import SyncOutput, catalog_for, config_for

STREAMS = ["users", "user_contact_methods", "teams", "services", "service_integrations"]


def sync(emulator, **settings) -> tuple[SyncOutput, dict[str, dict]]:
    config = config_for(emulator, **settings)
    catalog = catalog_for(STREAMS)
    if settings.get("unknown_fields") == "drop":  # discovered with the setting, as Meltano does
        discovered = TapPagerDuty(config={"api_token": "x", **settings}, parse_env_config=False)
        catalog = {**catalog, "streams": catalog["streams"]}
        schemas = {e["tap_stream_id"]: e["schema"] for e in discovered.catalog_dict["streams"]}
        for entry in catalog["streams"]:
            entry["schema"] = schemas[entry["tap_stream_id"]]
    tap = TapPagerDuty(config=config, catalog=catalog, parse_env_config=False)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        tap.sync_all()
    output = SyncOutput()
    output.add_lines(buffer.getvalue())
    schemas = {}
    for line in buffer.getvalue().splitlines():
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
    return output, schemas


@pytest.fixture
def novel(emulator_factory):
    return emulator_factory(
        seed=3, incidents=5, days=5, now="2026-11-01T00:00:00Z", users=6, novel_fields=True
    )


def test_unlisted_fields_are_kept_in_extra_by_default(novel, caplog) -> None:
    caplog.set_level("INFO")
    output, schemas = sync(novel)
    assert all(schemas[s]["properties"]["_extra"] == {"type": ["object", "null"]} for s in STREAMS)
    users = output.records["users"]
    assert all(u["_extra"]["billed"] is True for u in users)
    assert "billed" not in users[0]  # the typed columns stay as the schema lists them
    for user in users:  # one entry per contact method, None where nothing is unlisted
        methods = user["_extra"]["contact_methods"]
        assert len(methods) == len(user["contact_methods"])
        for kept, method in zip(methods, user["contact_methods"], strict=True):
            expected = method["type"] == "email_contact_method"
            assert (kept == {"send_html_email": False}) if expected else kept is None
    assert all(t["_extra"] == {"parent": None} for t in output.records["teams"])
    integrations = output.records["service_integrations"]
    assert all(i["_extra"]["integration_key"].startswith("key-") for i in integrations)
    said = [r.getMessage() for r in caplog.records if "kept in column _extra" in r.getMessage()]
    assert len([m for m in said if m.startswith("users:")]) == 1, said
    assert not [r for r in caplog.records if "not found in catalog schema" in r.getMessage()]


def test_unknown_fields_drop_leaves_them_out_as_before(novel, caplog) -> None:
    output, schemas = sync(novel, unknown_fields="drop")
    assert all("_extra" not in schemas[s]["properties"] for s in STREAMS)
    assert all("_extra" not in u and "billed" not in u for u in output.records["users"])
    assert any("not found in catalog schema" in r.getMessage() for r in caplog.records)


def test_records_with_nothing_unlisted_carry_no_extra(emulator_factory) -> None:
    emulator = emulator_factory(seed=3, incidents=5, days=5, now="2026-11-01T00:00:00Z", users=6)
    output, _schemas = sync(emulator)
    assert not [r for s in STREAMS for r in output.records[s] if "_extra" in r]


def test_unlisted_parts_follow_the_records_shape() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "team": {"type": "object", "properties": {"id": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "object", "properties": {}}},
            "free": {"type": "object"},
        },
    }
    record = {
        "id": "P1",
        "new": [1, 2],
        "team": {"id": "T", "parent": {"id": "T0"}},
        "tags": [{"x": 1}, {}],
        "free": {"anything": True},
    }
    assert unlisted_parts(record, schema) == {
        "new": [1, 2],
        "team": {"parent": {"id": "T0"}},
        "tags": [{"x": 1}, None],
    }
    assert unlisted_parts({"id": "P1", "team": {"id": "T"}}, schema) is None
