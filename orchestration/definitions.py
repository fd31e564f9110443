"""Dagster definitions: an hourly incremental sync partitioned by account, and one backfill
job per account that cuts its history into time slices run in parallel over its keys.

Load with `dagster dev -m orchestration.definitions` (see the README). Paths come from the
environment: PAGERDUTY_ACCOUNTS_FILE (default orchestration/accounts.example.yaml),
PAGERDUTY_STATE_DIR (default .dagster-pagerduty/state) and PAGERDUTY_OUTPUT_DIR (default
output/accounts).

Rate budget. Every key has `token_budget_rps`; a run gets `token_budget_rps / runs_per_token`
as the tap's `requests_per_second`, and Dagster never lets more than `runs_per_token` runs use
one key at once: the backfill's slices of one key carry the tag `pagerduty/key` and the pool
of that key, limited by the executor's `tag_concurrency_limits` (and, on a deployment with
pool limits, by the pool). So the runs on one key never add up to more than its budget.
"""

import json
import math
import os
import typing as t
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dagster import (
    Backoff,
    Definitions,
    DynamicOut,
    DynamicOutput,
    Failure,
    Field,
    In,
    Out,
    Output,
    RetryPolicy,
    RunRequest,
    job,
    multiprocess_executor,
    op,
    schedule,
    static_partitioned_config,
)

from orchestration.accounts import Account, load_accounts, token_pool
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
from orchestration.sink import new_output_file, read_outputs
from orchestration.tap_engine import REQUEST_ERRORS, TapRequests
from orchestration.tap_run import (
    TapRunFailed,
    discover_catalog,
    read_state,
    run_tap,
    select_streams,
    write_json_atomically,
)
from tap_pagerduty.streams import INCREMENTAL_STREAMS

ROOT = Path(__file__).resolve().parents[1]
# Buckets counted to balance a backfill's slices stay inside PagerDuty's 6-month `/incidents`
# range.
MAX_COUNT_BUCKET = timedelta(days=150)
KEY_TAG = "pagerduty/key"
ACCOUNT_TAG = "pagerduty/account"
# A failed sync is retried from its last STATE, 3 times; the waits grow 10 s, 20 s, 40 s.
RETRY_DELAY_SECONDS = 10.0


def retry_policy(delay: float = RETRY_DELAY_SECONDS) -> RetryPolicy:
    return RetryPolicy(max_retries=3, delay=delay, backoff=Backoff.EXPONENTIAL)


@dataclass(frozen=True)
class Paths:
    accounts_file: str
    state_dir: str
    output_dir: str

    @classmethod
    def from_env(cls) -> "Paths":
        return cls(
            accounts_file=os.environ.get(
                "PAGERDUTY_ACCOUNTS_FILE", str(ROOT / "orchestration" / "accounts.example.yaml")
            ),
            state_dir=os.environ.get(
                "PAGERDUTY_STATE_DIR", str(ROOT / ".dagster-pagerduty" / "state")
            ),
            output_dir=os.environ.get("PAGERDUTY_OUTPUT_DIR", str(ROOT / "output" / "accounts")),
        )

    def incremental_state(self, account: str) -> Path:
        return Path(self.state_dir) / account / "incremental.json"

    def backfill_dir(self, account: str, backfill_id: str) -> Path:
        return Path(self.state_dir) / account / "backfill" / backfill_id

    def outputs(self, account: str) -> Path:
        return Path(self.output_dir) / account


def _op_name(account: str, what: str) -> str:
    return f"{account.replace('-', '_')}__{what}"


# ---------------------------------------------------------------------------------------------
# incremental sync: one partition per account
# ---------------------------------------------------------------------------------------------
def build_incremental_job(
    accounts: dict[str, Account], paths: Paths, retry_delay: float = RETRY_DELAY_SECONDS
):
    @op(name="sync_account", retry_policy=retry_policy(retry_delay), config_schema={"account": str})
    def sync_account(context) -> dict:
        account = accounts[context.op_config["account"]]
        _warn_over_limit(context, account)
        state_path = paths.incremental_state(account.name)
        catalog = None
        if account.streams is not None:
            catalog = select_streams(
                discover_catalog(account.tap_config(account.token_env[0])), account.streams
            )
        result = _run(
            context,
            account.tap_config(account.token_env[0]),
            state_path=state_path,
            output_dir=paths.outputs(account.name),
            unit="incremental",
            catalog=catalog,
        )
        return {"account": account.name, "records": result.records, "resumed": result.resumed}

    @static_partitioned_config(
        partition_keys=list(accounts),
        tags_for_partition_key_fn=lambda key: {
            ACCOUNT_TAG: key,
            KEY_TAG: token_pool(accounts[key].token_env[0]),
        },
    )
    def by_account(partition_key: str) -> dict:
        return {"ops": {"sync_account": {"config": {"account": partition_key}}}}

    @job(name="pagerduty_incremental", config=by_account)
    def pagerduty_incremental():
        sync_account()

    return pagerduty_incremental


def build_hourly_schedule(incremental_job, accounts: dict[str, Account]):
    @schedule(
        name="pagerduty_hourly",
        cron_schedule="0 * * * *",
        job=incremental_job,
        execution_timezone="UTC",
    )
    def pagerduty_hourly(context):
        hour = context.scheduled_execution_time.strftime("%Y-%m-%dT%H")
        for name in accounts:
            yield RunRequest(run_key=f"{name}-{hour}", partition_key=name)

    return pagerduty_hourly


# ---------------------------------------------------------------------------------------------
# backfill: time slices in parallel over the account's keys, then the hand-over
# ---------------------------------------------------------------------------------------------
def build_backfill_job(account: Account, paths: Paths, retry_delay: float = RETRY_DELAY_SECONDS):
    keys = account.token_env
    key_outputs = {f"key_{k}": DynamicOut(dict) for k in range(len(keys))}

    @op(
        name=_op_name(account.name, "plan"),
        retry_policy=retry_policy(retry_delay),
        out={"plan": Out(dict), **key_outputs},
        config_schema={
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
        anchor, end = _backfill_range(account, settings)
        partitions = settings.get("partitions") or len(keys) * account.runs_per_token
        hand_over = settings.get("hand_over", end is None)
        if hand_over and account.anchor_date and parse(account.anchor_date) != anchor:
            raise Failure(
                f"backfill anchor_date {iso(anchor)} differs from account '{account.name}' "
                f"anchor_date {account.anchor_date}: the incremental sync would not follow the "
                "same incidents; set the account's anchor_date or run with hand_over: false."
            )
        _warn_over_limit(context, account)
        requesters = [TapRequests(account.tap_config(env)) for env in keys]
        try:
            started = requesters[0].now()
        except REQUEST_ERRORS as error:
            # Retried by the op's RetryPolicy.
            raise Failure(f"cannot read PagerDuty's clock: {error}") from None
        weights = _weights(context, requesters, anchor, end or started, partitions)
        slices = plan_slices(anchor, end, started, partitions, keys, weights)
        backfill_id = context.run_id
        folder = paths.backfill_dir(account.name, backfill_id)
        streams = [
            s for s in INCREMENTAL_STREAMS if account.streams is None or s in account.streams
        ]
        catalog = discover_catalog(account.tap_config(keys[0]))
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
            "backfill_id": backfill_id,
            "started_at": iso(started),
            "hand_over": hand_over,
            "change_feeds": change_feeds,
            "slices": [s.as_dict() for s in slices],
        }
        write_json_atomically(folder / "plan.json", planned)
        yield Output(planned, "plan")
        for item in slices:
            spec = {**item.as_dict(), "backfill_id": backfill_id}
            yield DynamicOutput(
                spec,
                mapping_key=f"slice_{item.index}",
                output_name=f"key_{keys.index(item.token_env)}",
            )

    sync_ops = [_slice_op(account, paths, k, env, retry_delay) for k, env in enumerate(keys)]

    @op(
        name=_op_name(account.name, "hand_over"),
        retry_policy=retry_policy(retry_delay),
        ins={"plan": In(dict), **{k: In(list) for k in key_outputs}},
    )
    def hand_over(context, plan: dict, **done: list) -> dict:
        folder = paths.backfill_dir(account.name, plan["backfill_id"])
        slices = [Slice(**s) for s in plan["slices"]]
        states = [read_state(folder / f"slice-{s.index:03d}.json") for s in slices]
        outputs = read_outputs(paths.outputs(account.name), units=_units(plan))
        _catch_up_notes(context, account, plan, slices, outputs, folder, paths)
        handed = hand_over_state(
            states,
            parse(plan["started_at"]),
            plan["change_feeds"],
            outputs.get("log_entries", {}).values(),
        )
        write_json_atomically(folder / "hand_over.json", handed)
        if not plan["hand_over"]:
            context.log.info("hand_over is off: the incremental state is left as it was")
            return handed
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
        return handed

    @job(
        name=f"pagerduty_backfill_{account.name.replace('-', '_')}",
        tags={ACCOUNT_TAG: account.name},
        executor_def=multiprocess_executor.configured(
            {
                "max_concurrent": len(keys) * account.runs_per_token,
                # Steps start as forks of a server that has already imported Dagster and
                # this package: a second or so each instead of several on a busy machine.
                "start_method": {"forkserver": {"preload_modules": [__name__]}},
                "tag_concurrency_limits": [
                    {
                        "key": KEY_TAG,
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": account.runs_per_token,
                    }
                ],
            }
        ),
    )
    def backfill():
        outputs = plan()
        planned, per_key = outputs[0], outputs[1:]
        collected = {f"key_{k}": per_key[k].map(sync_ops[k]).collect() for k in range(len(keys))}
        hand_over(plan=planned, **collected)

    return backfill


def _slice_op(account: Account, paths: Paths, index: int, env_name: str, retry_delay: float):
    pool = token_pool(env_name)

    @op(
        name=_op_name(account.name, f"sync_key_{index}"),
        tags={KEY_TAG: pool},
        pool=pool,
        retry_policy=retry_policy(retry_delay),
    )
    def sync_slice(context, spec: dict) -> dict:
        item = Slice(**{k: spec[k] for k in ("index", "anchor_date", "end_date", "token_env")})
        folder = paths.backfill_dir(account.name, spec["backfill_id"])
        extra = {"anchor_date": item.anchor_date}
        if item.end_date:
            # Notes added after the slice's end are read once, by the hand-over.
            extra.update(end_date=item.end_date, notes_log_end="end_date")
        result = _run(
            context,
            account.tap_config(item.token_env, **extra),
            state_path=folder / f"slice-{item.index:03d}.json",
            output_dir=paths.outputs(account.name),
            unit=_unit(spec["backfill_id"], item.index),
            catalog=read_state(folder / "catalog.json"),
        )
        return {"index": item.index, "records": result.records, "resumed": result.resumed}

    return sync_slice


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


def _catch_up_notes(
    context, account: Account, plan: dict, slices, outputs, folder: Path, paths: Paths
) -> None:
    """Read the notes the slices could not know about (see `incidents_missing_notes`) and
    write them as the tap's `incident_notes` records."""
    catalog = read_state(folder / "catalog.json") or {"streams": []}
    entry = next((e for e in catalog["streams"] if e["tap_stream_id"] == "incident_notes"), None)
    if entry is None or not _selected(entry):
        return
    missing = incidents_missing_notes(outputs, slices)
    if not missing:
        return
    context.log.info(
        f"{len(missing)} incident(s) got a note after the end of the slice that read them: "
        "reading their notes"
    )
    requester = TapRequests(account.tap_config(account.token_env[0]))
    unit = f"backfill-{plan['backfill_id'][:8]}-notes"
    path = new_output_file(paths.outputs(account.name), unit)
    try:
        with path.open("w", encoding="utf-8") as sink:
            schema = {"type": "SCHEMA", "stream": "incident_notes", "schema": entry["schema"]}
            sink.write(json.dumps({**schema, "key_properties": ["id"]}) + "\n")
            for line in requester.record_lines("incident_notes", fetch_notes(requester, missing)):
                sink.write(line + "\n")
    except REQUEST_ERRORS as error:
        path.unlink(missing_ok=True)  # nothing half-written; the op's RetryPolicy retries
        raise Failure(f"reading the notes added after the slices ended failed: {error}") from None
    for stream, records in read_outputs(path.parent, units=[unit]).items():
        outputs.setdefault(stream, {}).update(records)


def _selected(entry: dict) -> bool:
    top = next((m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []), {})
    return bool(top.get("selected", top.get("selected-by-default", False)))


def _unit(backfill_id: str, index: int) -> str:
    return f"backfill-{backfill_id[:8]}-slice-{index:03d}"


def _units(plan: dict) -> list[str]:
    return [_unit(plan["backfill_id"], s["index"]) for s in plan["slices"]]


def _run(context, config: dict[str, t.Any], **kwargs: t.Any):
    try:
        return run_tap(config, log=context.log.info, **kwargs)
    except TapRunFailed as error:
        # Retried by the op's RetryPolicy; the tap resumes from the state file.
        raise Failure(str(error)) from None


def _warn_over_limit(context, account: Account) -> None:
    if account.over_pagerduty_limit:
        context.log.warning(
            f"account '{account.name}': token_budget_rps {account.token_budget_rps:g} is above "
            "PagerDuty's 16 requests/s per key; only a proxy or the emulator allows that."
        )


# ---------------------------------------------------------------------------------------------
# definitions
# ---------------------------------------------------------------------------------------------
def build_definitions(paths: Paths, retry_delay: float = RETRY_DELAY_SECONDS) -> Definitions:
    accounts = load_accounts(paths.accounts_file)
    incremental = build_incremental_job(accounts, paths, retry_delay)
    backfills = [build_backfill_job(a, paths, retry_delay) for a in accounts.values()]
    return Definitions(
        jobs=[incremental, *backfills],
        schedules=[build_hourly_schedule(incremental, accounts)],
    )


def backfill_job_from_files(
    accounts_file: str,
    state_dir: str,
    output_dir: str,
    account: str,
    retry_delay: float = RETRY_DELAY_SECONDS,
):
    """The backfill job of one account, rebuilt from plain arguments: what
    `build_reconstructable_job` needs to run it on the multi-process executor."""
    paths = Paths(accounts_file, state_dir, output_dir)
    return build_backfill_job(load_accounts(accounts_file)[account], paths, retry_delay)


defs = build_definitions(Paths.from_env())
