"""The table derived from PagerDuty's OpenAPI spec (scopes and query parameters of every
operation the tap sends) matches the streams' declarations and regenerates from a spec."""

from __future__ import annotations

import json
import re

import pytest

from scripts import spec_tables
from tap_pagerduty import spec_table
from tap_pagerduty.spec_table import TABLE_FILE


def committed() -> dict:
    return json.loads((spec_tables.OUTPUT.parent / TABLE_FILE).read_text())


def test_the_table_holds_exactly_the_operations_the_tap_sends() -> None:
    declared = spec_tables.tap_operations()
    found = {operation: spec_table.find(operation) for operation in declared}
    assert not [op for op, entry in found.items() if entry is None], "regenerate the table"
    used = {entry.name for entry in found.values() if entry}
    assert used == set(committed()["operations"]), "the table lists operations no stream sends"
    assert all(entry.scope for entry in spec_table.operations())


def test_the_table_records_the_specs_commit() -> None:
    spec = committed()["spec"]
    assert spec["repository"] == "PagerDuty/api-schema"
    assert (
        re.fullmatch(r"[0-9a-f]{40}", spec["commit"]) and spec_table.spec_commit() == spec["commit"]
    )


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("GET /incidents/types", "GET /incidents/types"),
        ("GET /incidents/PABC123", "GET /incidents/{id}"),
        ("GET /users/{user_id}/notification_rules", "GET /users/{id}/notification_rules"),
        ("GET /users/PXYZ/notification_rules/", "GET /users/{id}/notification_rules"),
        (
            "GET /incidents/types/{type_id}/custom_fields",
            "GET /incidents/types/{type_id_or_name}/custom_fields",
        ),
        ("POST /analytics/raw/incidents", "POST /analytics/raw/incidents"),
        ("GET /analytics/raw/incidents", None),  # a GET the tap never sends
        ("GET /users/PXYZ/sessions", None),
    ],
)
def test_requests_find_their_operation(request_line: str, expected: str | None) -> None:
    found = spec_table.find(request_line)
    assert (found.name if found else None) == expected


def spec_from(table: dict) -> dict:
    """A minimal OpenAPI document declaring what `table` says (shared and inline parameters,
    headers and path parameters that the table must leave out)."""
    paths: dict = {}
    shared = {
        "limit": {"name": "limit", "in": "query"},
        "accept": {"name": "Accept", "in": "header"},
    }
    for name, entry in table["operations"].items():
        method, template = name.split(" ", 1)
        parameters: list = [{"$ref": "#/components/parameters/accept"}]
        parameters += [
            {"$ref": "#/components/parameters/limit"}
            if query == "limit"
            else {"name": query, "in": "query"}
            for query in entry["query"]
        ]
        parameters += [
            {"name": p.strip("{}"), "in": "path"} for p in re.findall(r"\{[^}]+\}", template)
        ]
        paths.setdefault(template, {})[method.lower()] = {
            "x-pd-requires-scope": entry["scope"],
            "parameters": parameters,
        }
        paths[template]["put"] = {"x-pd-requires-scope": "never.used", "parameters": []}
    paths["/not/sent/by/the/tap"] = {"get": {"x-pd-requires-scope": "other.read"}}
    return {"paths": paths, "components": {"parameters": shared}}


def test_the_script_regenerates_the_table_from_a_spec(tmp_path, capsys) -> None:
    table = committed()
    spec = tmp_path / "openapiv3.json"
    spec.write_text(json.dumps(spec_from(table)))
    output = tmp_path / TABLE_FILE
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert spec_tables.main([str(spec), "--commit", commit, "--output", str(output)]) == 0
    regenerated = json.loads(output.read_text())
    assert regenerated["operations"] == table["operations"]
    assert regenerated["spec"]["commit"] == commit
    # A file without its commit, and a spec lacking an operation: one line, exit 1.
    assert spec_tables.main([str(spec), "--output", str(output)]) == 1
    assert "give the spec's commit with --commit" in capsys.readouterr().err
    del table["operations"]["GET /oncalls"]
    spec.write_text(json.dumps(spec_from(table)))
    assert spec_tables.main([str(spec), "--commit", commit, "--output", str(output)]) == 1
    assert capsys.readouterr().err.strip() == (
        "spec_tables: GET /oncalls: no such operation in the spec (a stream declares it)"
    )
    assert json.loads(output.read_text())["operations"] == committed()["operations"]


def test_listings_without_total_or_paging_parameters_still_read_everything(
    emulator_factory,
) -> None:
    """`/license_allocations` and `/event_orchestrations` take no `total`: their pages are
    followed by `more`; notes and notification rules take no paging parameter at all."""
    from tests.support.spec_check import request_log, undeclared
    from tests.support.tap_runs import assert_matches_truth, config_for, run_in_process

    emulator = emulator_factory(seed=64, incidents=30, days=20, now="2026-11-01T00:00:00Z")
    streams = ["license_allocations", "event_orchestrations", "user_notification_rules"]
    output = run_in_process(config_for(emulator, page_size=1), [*streams, "status_dashboards"])
    log = request_log(emulator)
    assert not undeclared(log)
    for listing in ("/license_allocations", "/event_orchestrations"):
        queries = [q for _m, path, q in log if path == listing]
        assert len(queries) > 1 and all("total=" not in q for q in queries), listing
    for stream in [*streams, "status_dashboards"]:
        truth = emulator.truth(stream)
        assert len(truth) > 1, stream
        assert_matches_truth(stream, output.records.get(stream, []), truth)
