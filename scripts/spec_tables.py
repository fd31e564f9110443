"""Regenerate `tap_pagerduty/spec_table.json` from a fetched copy of PagerDuty's OpenAPI spec.

For every operation the tap sends (each stream's `operations()`, and the engine's clock
probe), the table records the scope the spec requires (`x-pd-requires-scope`) and the query
parameters it declares, with the spec's commit. Only this derived table is committed: the
spec's licence forbids copying the spec into the project.

    .venv/bin/python -m scripts.spec_tables /path/to/api-schema          # a git dir (bare or not)
    .venv/bin/python -m scripts.spec_tables openapiv3.json --commit SHA  # a file
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

from tap_pagerduty import spec_table
from tap_pagerduty.oauth import CLOCK_PROBE
from tap_pagerduty.streams import STREAM_TYPES

SPEC_FILE = "reference/REST/openapiv3.json"
REPOSITORY = "PagerDuty/api-schema"
OUTPUT = Path(spec_table.__file__).with_name(spec_table.TABLE_FILE)


class SpecError(Exception):
    """A spec that cannot be read or lacks an operation the tap sends: one line."""


def tap_operations() -> set[str]:
    """Every operation the tap may send, in its streams' own templates."""
    found = {CLOCK_PROBE}
    for stream_type in STREAM_TYPES:
        found |= stream_type.operations()
    return found


def read_spec(source: Path, commit: str | None) -> tuple[dict[str, t.Any], str]:
    """The spec and its commit, from a JSON file (with `commit`) or a git dir."""
    if source.is_file():
        if not commit:
            raise SpecError(f"{source} is a file: give the spec's commit with --commit")
        return json.loads(source.read_text(encoding="utf-8")), commit

    def git(*args: str) -> str:
        run = subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise SpecError(f"{source}: git {' '.join(args)} failed: {run.stderr.strip()}")
        return run.stdout

    revision = commit or git("rev-parse", "HEAD").strip()
    return json.loads(git("show", f"{revision}:{SPEC_FILE}")), revision


def _normalized(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", template.rstrip("/"))


def spec_operation(spec: dict[str, t.Any], operation: str) -> tuple[str, dict[str, t.Any]]:
    """The spec's name ("GET /users/{id}/notification_rules") and entry for `operation`."""
    method, _, path = operation.partition(" ")
    wanted = _normalized(path)
    for template, item in spec["paths"].items():
        if _normalized(template) == wanted and method.lower() in item:
            return f"{method} {template}", {
                "scope": item[method.lower()].get("x-pd-requires-scope"),
                "query": sorted(_query_parameters(spec, item, method.lower())),
            }
    raise SpecError(f"{operation}: no such operation in the spec (a stream declares it)")


def _query_parameters(spec: dict[str, t.Any], item: dict[str, t.Any], method: str) -> set[str]:
    shared = spec.get("components", {}).get("parameters", {})
    names = set()
    for parameter in [*item.get("parameters", []), *item[method].get("parameters", [])]:
        if "$ref" in parameter:
            parameter = shared[parameter["$ref"].rsplit("/", 1)[-1]]
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return names


def build_table(spec: dict[str, t.Any], commit: str) -> dict[str, t.Any]:
    entries = dict(spec_operation(spec, operation) for operation in tap_operations())
    return {
        "spec": {"repository": REPOSITORY, "file": SPEC_FILE, "commit": commit},
        "operations": dict(sorted(entries.items())),
    }


def scopes_markdown() -> str:
    """A table for docs/oauth.md: per stream, the operations a sync of it alone sends under
    OAuth client credentials (default settings) and the scopes the tap asks for."""
    from tap_pagerduty.settings import Settings

    settings = Settings.from_config(
        {"oauth_client_id": "c", "oauth_client_secret": "s", "oauth_subdomain": "acme"}
    )
    rows = ["| stream | requests sent | scopes asked |", "|---|---|---|"]
    for stream_type in STREAM_TYPES:
        found = [spec_table.find(op) for op in stream_type.operations(settings)]
        names = sorted(op.name for op in found if op)
        scopes = sorted({op.scope for op in found if op and op.scope})
        rows.append(
            f"| `{stream_type.name}` | {', '.join(f'`{n}`' for n in names)} "
            f"| {', '.join(f'`{s}`' for s in scopes)} |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the spec's git dir, or its JSON file")
    parser.add_argument("--commit", help="the spec's commit (required for a JSON file)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        spec, commit = read_spec(args.source, args.commit)
        table = build_table(spec, commit)
    except (SpecError, OSError, ValueError, KeyError) as error:
        print(f"spec_tables: {error}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(f"{args.output}: {len(table['operations'])} operations from {REPOSITORY}@{commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
