"""Loading the tap's output into the account's warehouse, in the shape dbt's sources expect.

One DuckDB file per account (`<warehouse_dir>/<account>.duckdb`), schema `pagerduty`, one
table per stream: the columns of the stream's schema typed as target-duckdb types them
(objects and arrays JSON, `date-time` TIMESTAMP, numbers DOUBLE, integers BIGINT), plus the
metadata columns the staging models read (`_sdc_batched_at`: when the row was loaded,
`_sdc_deleted_at`). Each load upserts the records of one run by primary key, the newest
version of a record winning (`updated_at`, else the one written last), as a Singer target
would; a stream whose SCHEMA came without records still gets its (empty) table, so that every
staging model finds its source. Separate files per account: runs of two accounts never wait
for each other's write lock.
"""

from __future__ import annotations

import json
import tempfile
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "pagerduty"
VERSION_FIELD = "updated_at"
METADATA_COLUMNS = {"_sdc_batched_at": "timestamp", "_sdc_deleted_at": "varchar"}


@dataclass
class StreamLoad:
    """What one load did for one stream: RECORD messages the tap wrote, distinct keys among
    them, rows of the table inserted or replaced, and rows in the table after the load."""

    records: int = 0
    distinct: int = 0
    rows_loaded: int = 0
    table_rows: int = 0


def warehouse_path(warehouse_dir: str | Path, account: str) -> Path:
    return Path(warehouse_dir) / f"{account}.duckdb"


def load_outputs(database: Path, output_files: t.Iterable[Path]) -> dict[str, StreamLoad]:
    """Upsert the records of `output_files` (the tap's SCHEMA/RECORD lines) into `database`."""
    import duckdb

    schemas, records = _read(output_files)
    database.parent.mkdir(parents=True, exist_ok=True)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    result: dict[str, StreamLoad] = {}
    with duckdb.connect(str(database)) as con, tempfile.TemporaryDirectory() as scratch:
        con.execute(f"create schema if not exists {SCHEMA}")
        for stream, message in schemas.items():
            columns = _columns(message["schema"])
            keys = [k.lower() for k in message.get("key_properties") or []]
            _create(con, stream, columns)
            rows = _newest_by_key(records.get(stream, []), keys)
            load = StreamLoad(records=len(records.get(stream, [])), distinct=len(rows))
            if rows:
                path = Path(scratch) / f"{stream}.jsonl"
                _write_rows(path, rows, columns)
                load.rows_loaded = _upsert(con, stream, columns, keys, path, loaded_at)
            (count,) = con.execute(f'select count(*) from {SCHEMA}."{stream}"').fetchone() or (0,)
            load.table_rows = int(count)
            result[stream] = load
    return result


def newest_value(database: Path, stream: str, column: str) -> str | None:
    """The largest value of `column` in a raw table, as ISO 8601 with `Z` (None: empty)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute(f'select max("{column}") from {SCHEMA}."{stream}"').fetchone()
    value = row[0] if row else None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _read(files: t.Iterable[Path]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    schemas: dict[str, dict] = {}
    records: dict[str, list[dict]] = {}
    for path in sorted(files):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                message = json.loads(line)
                if message["type"] == "SCHEMA":
                    schemas[message["stream"]] = message
                elif message["type"] == "RECORD":
                    records.setdefault(message["stream"], []).append(message["record"])
    return schemas, records


def _columns(schema: dict[str, t.Any]) -> dict[str, str]:
    """Column name (lower case, as target-duckdb names them) -> DuckDB type."""
    columns = {name.lower(): _type(prop) for name, prop in schema.get("properties", {}).items()}
    return {**columns, **METADATA_COLUMNS}


def _type(prop: dict[str, t.Any]) -> str:
    kinds = prop.get("type") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "object" in kinds or "array" in kinds or (not kinds and "properties" in prop):
        return "json"
    if prop.get("format") == "date-time":
        return "timestamp"
    if "number" in kinds:
        return "double"
    if "integer" in kinds and "string" not in kinds:
        return "bigint"
    if kinds == ["boolean"] or set(kinds) == {"null", "boolean"}:
        return "boolean"
    return "varchar"


def _create(con: t.Any, stream: str, columns: dict[str, str]) -> None:
    listed = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
    con.execute(f'create table if not exists {SCHEMA}."{stream}" ({listed})')
    have = {row[0] for row in con.execute(f'describe {SCHEMA}."{stream}"').fetchall()}
    for name, kind in columns.items():  # a field the schema gained since the table was made
        if name not in have:
            con.execute(f'alter table {SCHEMA}."{stream}" add column "{name}" {kind}')


def _newest_by_key(records: list[dict], keys: list[str]) -> list[dict]:
    if not keys:
        return records
    newest: dict[tuple, dict] = {}
    for record in records:
        lowered = {k.lower(): v for k, v in record.items()}
        key = tuple(json.dumps(lowered.get(k), sort_keys=True) for k in keys)
        held = newest.get(key)
        if held is None or str(lowered.get(VERSION_FIELD) or "") >= str(
            held.get(VERSION_FIELD) or ""
        ):
            newest[key] = lowered
    return list(newest.values())


def _write_rows(path: Path, rows: list[dict], columns: dict[str, str]) -> None:
    """Rows as JSON lines with every column as text (JSON columns as their JSON text), so
    that DuckDB reads them without guessing types; the insert casts."""
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            values = {}
            for name, kind in columns.items():
                value = row.get(name)
                if value is not None and (kind == "json" or not isinstance(value, str)):
                    value = json.dumps(value)
                values[name] = value
            out.write(json.dumps(values) + "\n")


def _upsert(
    con: t.Any,
    stream: str,
    columns: dict[str, str],
    keys: list[str],
    path: Path,
    loaded_at: datetime,
) -> int:
    table = f'{SCHEMA}."{stream}"'
    text_columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in columns) + "}"
    source = f"read_json('{path}', format='newline_delimited', columns={text_columns})"
    con.execute(f"create or replace temp table incoming as select * from {source}")
    if keys:
        matches = " and ".join(
            f'{table}."{k}" = cast(incoming."{k}" as {columns[k]})' for k in keys
        )
        con.execute(f"delete from {table} where exists (select 1 from incoming where {matches})")
    casts = ", ".join(
        "?" if name == "_sdc_batched_at" else f'cast("{name}" as {kind})'
        for name, kind in columns.items()
    )
    listed = ", ".join(f'"{name}"' for name in columns)
    con.execute(f"insert into {table} ({listed}) select {casts} from incoming", [loaded_at])
    (count,) = con.execute("select count(*) from incoming").fetchone() or (0,)
    return int(count)
