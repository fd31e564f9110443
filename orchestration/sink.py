"""The JSONL output of the runs, and reading it back deduplicated by key.

Each tap attempt writes its SCHEMA and RECORD messages to its own file,
`<output_dir>/<account>/<time_ns>-<unit>.jsonl`, so parallel partitions never share a file and
a retried attempt never truncates what the killed one wrote. A reader (or a loader into a
warehouse) keeps one record per primary key: the one with the newest `updated_at` where the
stream has it (incidents change; several runs can read one incident), otherwise the one
written last.
"""

from __future__ import annotations

import json
import time
import typing as t
from pathlib import Path

VERSION_FIELD = "updated_at"


def new_output_file(output_dir: Path, unit: str) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir / f"{time.time_ns():020d}-{unit}.jsonl"


def read_outputs(
    output_dir: Path, units: t.Collection[str] | None = None
) -> dict[str, dict[tuple, dict[str, t.Any]]]:
    """{stream: {primary key: record}} over the output files of one account (or of `units`)."""
    tables: dict[str, dict[tuple, dict[str, t.Any]]] = {}
    keys: dict[str, list[str]] = {}
    for path in sorted(output_dir.glob("*.jsonl")):
        if units is not None and path.stem.split("-", 1)[1] not in units:
            continue
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                message = json.loads(line)
                stream = message["stream"]
                if message["type"] == "SCHEMA":
                    keys[stream] = list(message.get("key_properties") or [])
                    continue
                record = message["record"]
                key = tuple(record.get(k) for k in keys[stream])
                table = tables.setdefault(stream, {})
                held = table.get(key)
                if held is None or _version(record) >= _version(held):
                    table[key] = record
    return tables


def _version(record: dict[str, t.Any]) -> str:
    return str(record.get(VERSION_FIELD) or "")
