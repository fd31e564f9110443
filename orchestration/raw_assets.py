"""The PagerDuty streams of one account as Dagster assets: `<account>/pagerduty/<stream>`.

One graph-backed multi-asset per account materializes them all, in one of two modes chosen by
the `plan` step's config:

* `incremental` (the default; the hourly schedule): one tap run from the account's
  incremental state, with its first key;
* `backfill`: the range [anchor_date, end_date or PagerDuty's now) cut into time slices of
  equal *expected requests* (`backfill.plan_slices`), the slices run in parallel over the
  account's keys, each its own tap run with its own state; then the hand-over merges their
  states into the incremental state (`backfill.hand_over_state`) and reads, through the
  tap's engine, the notes added after a slice ended.

Both end in the `load` step: the run's records go into the account's warehouse
(`warehouse.py`: DuckDB, or PostgreSQL by configuration), and each stream's materialization
carries what the tap reported and what was loaded (the asset checks compare them).

Rate budget. Every key has `token_budget_rps`; a run gets `token_budget_rps / runs_per_token`
as the tap's `requests_per_second`, and Dagster never lets more than `runs_per_token` runs use
one key at once: the slice steps of one key carry the tag `pagerduty/key` and the pool of that
key, limited by the executor's `tag_concurrency_limits` (and, on a deployment with pool
limits, by the pool). So the runs on one key never add up to more than its budget.
"""

from __future__ import annotations

import json
import math
import typing as t
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetKey,
    AssetOut,
    Backoff,
    DynamicOut,
    DynamicOutput,
    Failure,
    Field,
    In,
    Nothing,
    Out,
    Output,
    RetryPolicy,
    graph_multi_asset,
    op,
)

from orchestration.accounts import Account, AccountsError, token_pool
from orchestration.backfill import (
    CHANGE_FEED_KEY,
    Slice,
    fetch_notes,
    hand_over_state,
    incident_counts,
    incidents_missing_notes,
    iso,
    parse,
    plan_slices,
    request_weights,
)
from orchestration.resources import PagerDutyTap
from orchestration.sink import new_output_file, read_outputs
from orchestration.tap_engine import REQUEST_ERRORS, TapRequests
from orchestration.tap_run import (
    discover_catalog,
    read_state,
    select_streams,
    write_json_atomically,
)
from orchestration.warehouse import (
    DuckDBWarehouse,
    PostgresWarehouse,
    Warehouse,
    warehouse_path,
)
from tap_pagerduty.streams import INCREMENTAL_STREAMS, STREAM_TYPES

ROOT = Path(__file__).resolve().parents[1]
# Buckets counted to balance a backfill's slices stay inside PagerDuty's 6-month `/incidents`
# range.
MAX_COUNT_BUCKET = timedelta(days=150)
KEY_TAG = "pagerduty/key"
ACCOUNT_TAG = "pagerduty/account"
# A failed step is retried (a tap run from its last STATE), 3 times; waits 10 s, 20 s, 40 s.
RETRY_DELAY_SECONDS = 10.0


def retry_policy(delay: float = RETRY_DELAY_SECONDS) -> RetryPolicy:
    return RetryPolicy(max_retries=3, delay=delay, backoff=Backoff.EXPONENTIAL)


@dataclass(frozen=True)
class Paths:
    accounts_file: str
    state_dir: str
    output_dir: str
    warehouse_dir: str = str(ROOT / "output" / "warehouse")
    reports_dir: str = str(ROOT / "output" / "reports")
    # PostgreSQL instead of DuckDB files (PAGERDUTY_WAREHOUSE_URL); holds a password: never
    # logged, never in run config.
    warehouse_url: str | None = field(default=None, repr=False)

    def incremental_state(self, account: str) -> Path:
        return Path(self.state_dir) / account / "incremental.json"

    def backfill_dir(self, account: str, backfill_id: str) -> Path:
        return Path(self.state_dir) / account / "backfill" / backfill_id

    def outputs(self, account: str) -> Path:
        return Path(self.output_dir) / account

    def warehouse(self, account: str) -> Path:
        """The account's DuckDB file (the default warehouse)."""
        return warehouse_path(self.warehouse_dir, account)

    def warehouse_for(self, account: str) -> Warehouse:
        if self.warehouse_url:
            return PostgresWarehouse.from_url(self.warehouse_url, account_key(account))
        return DuckDBWarehouse(self.warehouse(account))


def account_key(account: str) -> str:
    """The account's name as an asset key part and op name prefix (`-` is not allowed)."""
    return account.replace("-", "_")


def raw_key(account: str, stream: str) -> AssetKey:
    return AssetKey([account_key(account), "pagerduty", stream])


def resource_key(account: str) -> str:
    return f"pagerduty_{account_key(account)}"


def account_streams(account: Account) -> list[str]:
    """The streams the account syncs: its `streams`, or every stream of the tap (all are
    selected by default)."""
    known = [stream_type.name for stream_type in STREAM_TYPES]
    if account.streams is None:
        return known
    unknown = sorted(set(account.streams) - set(known))
    if unknown:
        raise AccountsError(
            f"account '{account.name}': unknown stream(s) {', '.join(unknown)}: choose from "
            f"{', '.join(sorted(known))}."
        )
    return list(account.streams)


def _op_name(account: str, what: str) -> str:
    return f"{account_key(account)}__{what}"


def _tap(context, account: Account) -> PagerDutyTap:
    return getattr(context.resources, resource_key(account.name))


def build_raw_assets(
    account: Account, paths: Paths, retry_delay: float = RETRY_DELAY_SECONDS
) -> t.Any:
    streams = account_streams(account)
    keys = account.token_env
    plan = _plan_op(account, paths, retry_delay)
    sync_ops = [_slice_op(account, paths, k, env, retry_delay) for k, env in enumerate(keys)]
    load = _load_op(account, paths, streams, retry_delay)

    @graph_multi_asset(
        name=_op_name(account.name, "pagerduty"),
        group_name=account_key(account.name),
        outs={
            stream: AssetOut(
                key=raw_key(account.name, stream),
                kinds={"pagerduty", "duckdb"},
                description=f"PagerDuty stream `{stream}` of account '{account.name}', as "
                f"loaded into its warehouse (table {stream} of its raw schema).",
            )
            for stream in streams
        },
    )
    def raw_assets():
        outputs = plan()
        planned, per_key = outputs[0], outputs[1:]
        collected = {f"key_{k}": per_key[k].map(sync_ops[k]).collect() for k in range(len(keys))}
        loaded = load(plan=planned, **collected)
        return {stream: loaded[i] for i, stream in enumerate(streams)}

    return raw_assets


# ---------------------------------------------------------------------------------------------
# plan: one incremental run, or time slices balanced by expected requests
# ---------------------------------------------------------------------------------------------
def _plan_op(account: Account, paths: Paths, retry_delay: float):
    keys = account.token_env

    @op(
        name=_op_name(account.name, "plan"),
        retry_policy=retry_policy(retry_delay),
        required_resource_keys={resource_key(account.name)},
        out={"plan": Out(dict), **{f"key_{k}": DynamicOut(dict) for k in range(len(keys))}},
        config_schema={
            "mode": Field(
                str,
                default_value="incremental",
                description="incremental (one run from the incremental state) or backfill",
            ),
            "anchor_date": Field(str, is_required=False, description="default: the account's"),
            "end_date": Field(str, is_required=False, description="default: PagerDuty's now"),
            "partitions": Field(int, is_required=False, description="default: keys x runs"),
            "hand_over": Field(
                bool, is_required=False, description="default: true unless end_date is set"
            ),
        },
    )
    def plan(context):
        settings = context.op_config
        tap = _tap(context, account)
        _warn_over_limit(context, account)
        if settings["mode"] not in ("incremental", "backfill"):
            raise Failure(f"plan mode {settings['mode']!r}: use incremental or backfill.")
        if settings["mode"] == "incremental":
            planned = {"mode": "incremental", "run_id": context.run_id, "slices": []}
            yield Output(planned, "plan")
            yield DynamicOutput({"mode": "incremental", "run_id": context.run_id}, "run", "key_0")
            return
        planned = _plan_backfill(context, account, tap, paths, settings)
        yield Output(planned, "plan")
        for item in planned["slices"]:
            spec = {**item, "mode": "backfill", "backfill_id": planned["backfill_id"]}
            yield DynamicOutput(
                spec,
                mapping_key=f"slice_{item['index']}",
                output_name=f"key_{keys.index(item['token_env'])}",
            )

    return plan


def _plan_backfill(context, account: Account, tap: PagerDutyTap, paths: Paths, settings: dict):
    keys = account.token_env
    anchor, end = _backfill_range(account, settings)
    partitions = settings.get("partitions") or len(keys) * account.runs_per_token
    hand_over = settings.get("hand_over", end is None)
    if hand_over and account.anchor_date and parse(account.anchor_date) != anchor:
        raise Failure(
            f"backfill anchor_date {iso(anchor)} differs from account '{account.name}' "
            f"anchor_date {account.anchor_date}: the incremental sync would not follow the "
            "same incidents; set the account's anchor_date or run with hand_over: false."
        )
    requesters = _requesters(account, tap)
    try:
        started = requesters[0].now()
    except REQUEST_ERRORS as error:
        raise Failure(f"cannot read PagerDuty's clock: {error}") from None  # retried
    weights = _weights(context, requesters, anchor, end or started, partitions)
    slices = plan_slices(anchor, end, started, partitions, keys, weights)
    backfill_id = context.run_id
    folder = paths.backfill_dir(account.name, backfill_id)
    streams = [s for s in INCREMENTAL_STREAMS if account.streams is None or s in account.streams]
    catalog = discover_catalog(tap.config(keys[0]))
    write_json_atomically(folder / "catalog.json", select_streams(catalog, streams))
    change_feeds = sorted(
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        if entry.get("replication_key") == CHANGE_FEED_KEY and entry["tap_stream_id"] in streams
    )
    context.log.info(
        f"backfill {backfill_id} of '{account.name}': {len(slices)} slices from {iso(anchor)}"
        f" to {settings.get('end_date') or 'now'} over {len(keys)} key(s); PagerDuty's "
        f"clock at the start: {iso(started)}"
    )
    planned = {
        "mode": "backfill",
        "run_id": context.run_id,
        "backfill_id": backfill_id,
        "started_at": iso(started),
        "hand_over": hand_over,
        "change_feeds": change_feeds,
        "slices": [s.as_dict() for s in slices],
    }
    write_json_atomically(folder / "plan.json", planned)
    return planned


def _requesters(account: Account, tap: PagerDutyTap) -> list[TapRequests]:
    """Before the slices start and after they end, every key's whole budget is free: as many
    requesters, each at one run's share and in its own thread, as the slices have runs."""
    return [
        TapRequests(tap.config(env))
        for env in account.token_env
        for _ in range(account.runs_per_token)
    ]


def _backfill_range(account: Account, settings: dict) -> tuple:
    """(anchor, end or None) from the plan's config and the account, or a one-line Failure."""
    values = {
        "anchor_date": settings.get("anchor_date") or account.anchor_date,
        "end_date": settings.get("end_date"),
    }
    if not values["anchor_date"]:
        raise Failure(
            f"account '{account.name}' has no anchor_date: set it in the accounts file or in "
            "the plan step's config."
        )
    parsed = {}
    for name, value in values.items():
        try:
            parsed[name] = parse(value) if value else None
        except ValueError:
            raise Failure(
                f"{name} {value!r} is not an ISO 8601 date (2024-01-01T00:00:00Z)"
            ) from None
    return parsed["anchor_date"], parsed["end_date"]


def _weights(context, requesters: list[TapRequests], start, stop, partitions: int) -> list:
    """Requests expected per bucket of the range, to give the slices equal work; without
    them (counting failed) the slices get equal lengths, which the log says."""
    buckets = max(2 * partitions, math.ceil((stop - start) / MAX_COUNT_BUCKET))
    try:
        return request_weights(incident_counts(requesters, start, stop, buckets))
    except REQUEST_ERRORS as error:
        context.log.warning(
            f"counting incidents to balance the slices failed ({error}): "
            "the slices get equal lengths instead"
        )
        return []


# ---------------------------------------------------------------------------------------------
# one tap run per slice (or the incremental run), on its key, in its key's pool
# ---------------------------------------------------------------------------------------------
def _slice_op(account: Account, paths: Paths, index: int, env_name: str, retry_delay: float):
    pool = token_pool(env_name)

    @op(
        name=_op_name(account.name, f"sync_key_{index}"),
        tags={KEY_TAG: pool},
        pool=pool,
        retry_policy=retry_policy(retry_delay),
        required_resource_keys={resource_key(account.name)},
    )
    def sync_slice(context, spec: dict) -> dict:
        tap = _tap(context, account)
        if spec["mode"] == "incremental":
            return _sync_incremental(context, account, tap, paths, spec["run_id"])
        item = Slice(**{k: spec[k] for k in ("index", "anchor_date", "end_date", "token_env")})
        folder = paths.backfill_dir(account.name, spec["backfill_id"])
        extra = {"anchor_date": item.anchor_date}
        if item.end_date:
            # Notes added after the slice's end are read once, by the hand-over.
            extra.update(end_date=item.end_date, notes_log_end="end_date")
        result = tap.run(
            tap.config(item.token_env, **extra),
            state_path=folder / f"slice-{item.index:03d}.json",
            output_dir=paths.outputs(account.name),
            unit=_unit(spec["backfill_id"], item.index),
            catalog=read_state(folder / "catalog.json"),
            log=context.log.info,
        )
        return {"index": item.index, "records": result.records, "resumed": result.resumed}

    return sync_slice


def _sync_incremental(context, account: Account, tap: PagerDutyTap, paths: Paths, run_id: str):
    env = account.token_env[0]
    catalog = None
    if account.streams is not None:
        catalog = select_streams(discover_catalog(tap.config(env)), account.streams)
    result = tap.run(
        tap.config(env),
        state_path=paths.incremental_state(account.name),
        output_dir=paths.outputs(account.name),
        unit=_incremental_unit(run_id),
        catalog=catalog,
        log=context.log.info,
    )
    return {"index": 0, "records": result.records, "resumed": result.resumed}


# ---------------------------------------------------------------------------------------------
# load: the hand-over (backfill), then the run's records into the warehouse
# ---------------------------------------------------------------------------------------------
def _load_op(account: Account, paths: Paths, streams: list[str], retry_delay: float):
    keys = account.token_env

    @op(
        name=_op_name(account.name, "load"),
        retry_policy=retry_policy(retry_delay),
        required_resource_keys={resource_key(account.name)},
        ins={"plan": In(dict), **{f"key_{k}": In(list) for k in range(len(keys))}},
        # The records are in the warehouse, what was loaded in each materialization's
        # metadata: nothing for an IO manager to store (and no event per stream for it).
        out={stream: Out(Nothing) for stream in streams},
    )
    def load(context, plan: dict, **done: list):
        tap = _tap(context, account)
        units = [_incremental_unit(plan["run_id"])]
        if plan["mode"] == "backfill":
            units = _hand_over(context, account, tap, paths, plan)
        # PagerDuty's clock at sync time, for the freshness check.
        clock = plan.get("started_at") or _pagerduty_clock(tap, account)
        files = [
            path
            for path in sorted(paths.outputs(account.name).glob("*.jsonl"))
            if path.stem.split("-", 1)[1] in units
        ]
        loads = paths.warehouse_for(account.name).load(files)
        reported: dict[str, int] = {}
        for result in (r for results in done.values() for r in results):
            for stream, count in result["records"].items():
                reported[stream] = reported.get(stream, 0) + count
        for stream in streams:
            loaded = loads.get(stream)
            metadata = {
                "records_reported": reported.get(stream, 0),
                "records_written": loaded.records if loaded else 0,
                "distinct_records": loaded.distinct if loaded else 0,
                "rows_loaded": loaded.rows_loaded if loaded else 0,
                "table_rows": loaded.table_rows if loaded else 0,
                "mode": plan["mode"],
            }
            metadata["pagerduty_clock"] = clock
            yield Output(None, stream, metadata=metadata)

    return load


def _pagerduty_clock(tap: PagerDutyTap, account: Account) -> str:
    try:
        return iso(TapRequests(tap.config(account.token_env[0])).now())
    except REQUEST_ERRORS as error:
        raise Failure(f"cannot read PagerDuty's clock: {error}") from None  # retried


def _hand_over(context, account: Account, tap: PagerDutyTap, paths: Paths, plan: dict):
    """The backfill's hand-over; returns the output units of the backfill."""
    folder = paths.backfill_dir(account.name, plan["backfill_id"])
    slices = [Slice(**s) for s in plan["slices"]]
    states = [read_state(folder / f"slice-{s.index:03d}.json") for s in slices]
    units = [_unit(plan["backfill_id"], s.index) for s in slices]
    outputs = read_outputs(paths.outputs(account.name), units=units)
    notes_unit = _catch_up_notes(context, account, tap, plan, slices, outputs, folder, paths)
    handed = hand_over_state(
        states,
        parse(plan["started_at"]),
        plan["change_feeds"],
        outputs.get("log_entries", {}).values(),
    )
    write_json_atomically(folder / "hand_over.json", handed)
    if not plan["hand_over"]:
        context.log.info("hand_over is off: the incremental state is left as it was")
    else:
        target = paths.incremental_state(account.name)
        previous = read_state(target)
        if previous is not None:
            write_json_atomically(folder / "incremental-before.json", previous)
        write_json_atomically(target, handed)
        context.log.info(
            f"incremental state of '{account.name}' handed over: "
            + ", ".join(
                f"{s}={b.get('replication_key_value')}" for s, b in handed["bookmarks"].items()
            )
        )
    return units + ([notes_unit] if notes_unit else [])


def _catch_up_notes(
    context, account: Account, tap: PagerDutyTap, plan: dict, slices, outputs, folder, paths
) -> str | None:
    """Read the notes the slices could not know about (see `incidents_missing_notes`)
    through the tap's engine, and write them as the tap writes `incident_notes` records
    (its conformance and stream maps); the output unit, or None."""
    catalog = read_state(folder / "catalog.json") or {"streams": []}
    entry = next((e for e in catalog["streams"] if e["tap_stream_id"] == "incident_notes"), None)
    if entry is None or not _selected(entry):
        return None
    missing = incidents_missing_notes(outputs, slices)
    if not missing:
        return None
    context.log.info(
        f"{len(missing)} incident(s) got a note after the end of the slice that read them: "
        "reading their notes"
    )
    requesters = _requesters(account, tap)
    try:
        notes = fetch_notes(requesters, missing)
    except REQUEST_ERRORS as error:  # nothing written; the op's RetryPolicy retries
        raise Failure(f"reading the notes added after the slices ended failed: {error}") from None
    unit = f"backfill-{plan['backfill_id'][:8]}-notes"
    path = new_output_file(paths.outputs(account.name), unit)
    with path.open("w", encoding="utf-8") as sink:
        schema = {"type": "SCHEMA", "stream": "incident_notes", "schema": entry["schema"]}
        sink.write(json.dumps({**schema, "key_properties": ["id"]}) + "\n")
        for line in requesters[0].record_lines("incident_notes", notes):
            sink.write(line + "\n")
    return unit


def _selected(entry: dict[str, t.Any]) -> bool:
    top: dict[str, t.Any] = next(
        (m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []), {}
    )
    return bool(top.get("selected", top.get("selected-by-default", False)))


def _unit(backfill_id: str, index: int) -> str:
    return f"backfill-{backfill_id[:8]}-slice-{index:03d}"


def _incremental_unit(run_id: str) -> str:
    return f"incremental-{run_id[:8]}"


def _warn_over_limit(context, account: Account) -> None:
    if account.over_pagerduty_limit:
        context.log.warning(
            f"account '{account.name}': token_budget_rps {account.token_budget_rps:g} is above "
            "PagerDuty's 16 requests/s per key; only a proxy or the emulator allows that."
        )
