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

PostgreSQL instead, when configured (`PAGERDUTY_WAREHOUSE_URL`, see `PostgresWarehouse`): one
database, per account the schemas `<account>_pagerduty` (the raw tables, typed as
target-postgres types them: objects `jsonb`, arrays `text[]` or `jsonb[]`, numbers `numeric`)
and `<account>_analytics` (dbt's models).
"""

from __future__ import annotations

import json
import tempfile
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


# ---------------------------------------------------------------------------------------------
# The account's warehouse: DuckDB (default) or PostgreSQL
# ---------------------------------------------------------------------------------------------
class WarehouseError(ValueError):
    """A warehouse setting that cannot work; the message is one line naming it."""


class Warehouse(t.Protocol):
    """Where one account's records are loaded and dbt builds its models."""

    def load(self, output_files: t.Iterable[Path]) -> dict[str, StreamLoad]: ...

    def newest_value(self, stream: str, column: str) -> str | None: ...

    def dbt_settings(self) -> dict[str, str]:
        """Environment for analytics/profiles.yml (DBT_TARGET and its settings)."""
        ...

    def dbt_vars(self) -> dict[str, str]:
        """`--vars` of analytics/dbt_project.yml for this warehouse."""
        ...

    def write_report(self, out: Path, subtitle: str) -> Path: ...


@dataclass(frozen=True)
class DuckDBWarehouse:
    """One DuckDB file per account: schema `pagerduty` (raw), `analytics` (dbt)."""

    path: Path

    def load(self, output_files: t.Iterable[Path]) -> dict[str, StreamLoad]:
        return load_outputs(self.path, output_files)

    def newest_value(self, stream: str, column: str) -> str | None:
        return newest_value(self.path, stream, column)

    def dbt_settings(self) -> dict[str, str]:
        return {"DBT_TARGET": "duckdb", "DBT_DUCKDB_PATH": str(self.path)}

    def dbt_vars(self) -> dict[str, str]:
        return {}

    def write_report(self, out: Path, subtitle: str) -> Path:
        from scripts.report import write_report

        return write_report(self.path, out, subtitle=subtitle)


@dataclass(frozen=True)
class PostgresWarehouse:
    """One PostgreSQL database for every account, two schemas per account.

    `url` is `postgresql://user[:password]@host[:port]/database`; it holds a secret, so it is
    never logged, and the errors name the setting, not its value."""

    url: str
    prefix: str  # the account's name as an identifier

    @classmethod
    def from_url(cls, url: str, prefix: str) -> PostgresWarehouse:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise WarehouseError(
                "PAGERDUTY_WAREHOUSE_URL is not a PostgreSQL URL: set it to "
                "postgresql://user:password@host:port/database, or unset it for DuckDB."
            )
        if not parts.path.strip("/"):
            raise WarehouseError(
                "PAGERDUTY_WAREHOUSE_URL names no database: end it with /<database>."
            )
        return cls(url, prefix)

    @property
    def raw_schema(self) -> str:
        return f"{self.prefix}_{SCHEMA}"

    @property
    def models_schema(self) -> str:
        return f"{self.prefix}_analytics"

    def connect(self) -> t.Any:
        import psycopg2

        return psycopg2.connect(self.url)

    def load(self, output_files: t.Iterable[Path]) -> dict[str, StreamLoad]:
        schemas, records = _read(output_files)
        loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
        result: dict[str, StreamLoad] = {}
        con = self.connect()
        try:
            with con, con.cursor() as cur:  # one transaction: all streams or none
                cur.execute(f'create schema if not exists "{self.raw_schema}"')
                for stream, message in schemas.items():
                    columns = _pg_columns(message["schema"])
                    keys = [k.lower() for k in message.get("key_properties") or []]
                    table = f'"{self.raw_schema}"."{stream}"'
                    _pg_create(cur, self.raw_schema, stream, columns)
                    rows = _newest_by_key(records.get(stream, []), keys)
                    load = StreamLoad(records=len(records.get(stream, [])), distinct=len(rows))
                    if rows:
                        load.rows_loaded = _pg_upsert(cur, table, columns, keys, rows, loaded_at)
                    cur.execute(f"select count(*) from {table}")
                    load.table_rows = int(cur.fetchone()[0])
                    result[stream] = load
        finally:
            con.close()
        return result

    def newest_value(self, stream: str, column: str) -> str | None:
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f'select max("{column}") from "{self.raw_schema}"."{stream}"')
                row = cur.fetchone()
        finally:
            con.close()
        value = row[0] if row else None
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None

    def dbt_settings(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        return {
            "DBT_TARGET": "postgres",
            "DBT_POSTGRES_HOST": parts.hostname or "",
            "DBT_POSTGRES_PORT": str(parts.port or 5432),
            "DBT_POSTGRES_USER": unquote(parts.username or ""),
            "DBT_POSTGRES_PASSWORD": unquote(parts.password or ""),
            "DBT_POSTGRES_DATABASE": unquote(parts.path.strip("/")),
            "DBT_SCHEMA": self.models_schema,
        }

    def dbt_vars(self) -> dict[str, str]:
        return {"pagerduty_schema": self.raw_schema}

    def write_report(self, out: Path, subtitle: str) -> Path:
        """The report's queries are DuckDB's: the marts are copied into an in-memory DuckDB
        (schema `analytics`, as in a DuckDB warehouse) and the report reads them there."""
        import duckdb

        from scripts.report import REPORT_MARTS, load, render

        con = self.connect()
        try:
            with duckdb.connect(":memory:") as duck:
                duck.execute("create schema analytics")
                for mart in REPORT_MARTS:
                    _copy_table(con, f'"{self.models_schema}"."{mart}"', duck, f"analytics.{mart}")
                data = load(duck)
        finally:
            con.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(data, subtitle), encoding="utf-8")
        return out


def _pg_columns(schema: dict[str, t.Any]) -> dict[str, str]:
    """Column name (lower case) -> PostgreSQL type, as target-postgres types the stream."""
    columns = {name.lower(): _pg_type(prop) for name, prop in schema.get("properties", {}).items()}
    return {**columns, **METADATA_COLUMNS}


def _pg_type(prop: dict[str, t.Any]) -> str:
    kinds = prop.get("type") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "array" in kinds:
        items = (prop.get("items") or {}).get("type") or []
        items = [items] if isinstance(items, str) else items
        return "text[]" if set(items) - {"null"} == {"string"} else "jsonb[]"
    if "object" in kinds or (not kinds and "properties" in prop):
        return "jsonb"
    if prop.get("format") == "date-time":
        return "timestamp"
    if "number" in kinds:
        return "numeric"
    if "integer" in kinds and "string" not in kinds:
        return "bigint"
    if kinds == ["boolean"] or set(kinds) == {"null", "boolean"}:
        return "boolean"
    return "text"


def _pg_create(cur: t.Any, schema: str, stream: str, columns: dict[str, str]) -> None:
    listed = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
    cur.execute(f'create table if not exists "{schema}"."{stream}" ({listed})')
    cur.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s",
        (schema, stream),
    )
    have = {row[0] for row in cur.fetchall()}
    for name, kind in columns.items():  # a field the schema gained since the table was made
        if name not in have:
            cur.execute(f'alter table "{schema}"."{stream}" add column "{name}" {kind}')


def _pg_value(value: t.Any, kind: str) -> t.Any:
    if value is None:
        return None
    if kind == "jsonb":
        return json.dumps(value)
    if kind.endswith("[]"):
        items = value if isinstance(value, list) else [value]
        if kind == "text[]":
            return [None if item is None else str(item) for item in items]
        return [json.dumps(item) for item in items]
    if kind in ("text", "timestamp") and not isinstance(value, str):
        return json.dumps(value)
    return value


def _pg_upsert(
    cur: t.Any,
    table: str,
    columns: dict[str, str],
    keys: list[str],
    rows: list[dict],
    loaded_at: datetime,
) -> int:
    """The rows replace those of the same key (the newest version of a record wins)."""
    from psycopg2.extras import execute_values

    cur.execute(f"create temp table incoming on commit drop as select * from {table} limit 0")
    listed = ", ".join(f'"{name}"' for name in columns)
    template = "(" + ", ".join(f"%s::{kind}" for kind in columns.values()) + ")"
    values = [
        tuple(
            loaded_at if name == "_sdc_batched_at" else _pg_value(row.get(name), kind)
            for name, kind in columns.items()
        )
        for row in rows
    ]
    execute_values(cur, f"insert into incoming ({listed}) values %s", values, template=template)
    if keys:
        matches = " and ".join(f'{table}."{k}" = incoming."{k}"' for k in keys)
        cur.execute(f"delete from {table} using incoming where {matches}")
    cur.execute(f"insert into {table} ({listed}) select {listed} from incoming")
    cur.execute("drop table incoming")
    return len(rows)


# PostgreSQL type oids of the marts' columns -> DuckDB types (anything else: text).
_DUCKDB_TYPES = {
    16: "boolean",
    20: "bigint",
    21: "bigint",
    23: "bigint",
    700: "double",
    701: "double",
    1700: "double",
    1082: "date",
    1114: "timestamp",
    1184: "timestamptz",
}


def _copy_table(pg: t.Any, source: str, duck: t.Any, target: str) -> None:
    with pg.cursor() as cur:
        cur.execute(f"select * from {source}")
        names = [d.name for d in cur.description]
        kinds = [_DUCKDB_TYPES.get(d.type_code, "varchar") for d in cur.description]
        rows = [
            tuple(_as_text(v) if k == "varchar" else v for v, k in zip(row, kinds, strict=True))
            for row in cur.fetchall()
        ]
    listed = ", ".join(f'"{n}" {k}' for n, k in zip(names, kinds, strict=True))
    duck.execute(f"create table {target} ({listed})")
    if rows:
        marks = ", ".join("?" for _ in names)
        duck.executemany(f"insert into {target} values ({marks})", rows)


def _as_text(value: t.Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
