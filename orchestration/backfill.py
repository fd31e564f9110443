"""A backfill cut into time slices, and the state it hands over to the incremental sync.

The slices split [anchor_date, end) into contiguous half-open ranges; each runs the tap's
history streams with its own `anchor_date`/`end_date` and its own state. When the range is
open-ended, the last slice has no `end_date` and reads up to PagerDuty's "now".

Hand-over. The incremental sync goes on from the slices' combined state, stream by stream:

* streams of immutable records by time (log entries, notifications, audit records, change
  events): the latest slice's bookmark. Together the slices read every record up to it, and
  the incremental sync reads from there.
* change feeds (`replication_key` = `updated_at`: incidents, whose bookmark is how far the
  change log `/log_entries` has been read, and analytics): the slices read each incident in
  its version *at the time they read it*, so a change made to an older incident while the
  backfill ran would be lost if the feed resumed at the latest slice's end. The hand-over
  position is therefore the earliest of (a) PagerDuty's clock when the backfill started,
  before any slice read anything, and (b) the latest slice's own position. Every change
  after it is in the change log the incremental sync reads next.

The incidents state also holds the positions of the tap's feeds for changes that write no
log entry (`silent_from`: open incidents, analytics, look-back), at fixed offsets before the
change log's position; they move back with it. The versions each slice emitted (`versions`)
are merged, and the tap re-reads its change log from 10 minutes before the bookmark, skipping
the log entries listed in `overlap_ids`: the hand-over lists there the log entries the backfill
read in those 10 minutes. So the first incremental run emits no incident in a version the
backfill already wrote.
"""

from __future__ import annotations

import copy
import email.utils
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import requests

from tap_pagerduty.state import Bookmark, IncidentsState, bookmark_of
from tap_pagerduty.streams import STATE_TYPES
from tap_pagerduty.streams.incidents import CHANGE_LOG_OVERLAP, noted_incident_ids

# Records whose stream bookmarks on this key change after they are read.
CHANGE_FEED_KEY = "updated_at"
CHANGE_LOG_STREAM = "incidents"
ACCEPT = "application/vnd.pagerduty+json;version=2"


@dataclass(frozen=True)
class Slice:
    index: int
    anchor_date: str
    end_date: str | None  # None: up to PagerDuty's now
    token_env: str

    def as_dict(self) -> dict[str, t.Any]:
        return asdict(self)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(
        timezone.utc
    )


def plan_slices(
    anchor: datetime,
    end: datetime | None,
    now: datetime,
    partitions: int,
    token_envs: t.Sequence[str],
    weights: t.Sequence[tuple[datetime, datetime, float]] = (),
) -> list[Slice]:
    """`partitions` contiguous slices over [anchor, end or now), keys round-robin.

    With `weights` (buckets covering the range with their expected work), the slices get
    equal shares of the work rather than equal lengths: incidents are rarely spread evenly
    over the years, and the slowest slice sets the backfill's wall time."""
    stop = end or now
    if stop <= anchor:
        raise ValueError(f"the range is empty: {iso(anchor)} .. {iso(stop)}")
    if (stop - anchor) / partitions < timedelta(minutes=1):
        raise ValueError(f"{partitions} partitions over {stop - anchor} is less than a minute each")
    inner = _balanced_cuts(anchor, stop, partitions, weights)
    bounds = [anchor, *(b.replace(microsecond=0) for b in inner), stop]
    slices = []
    for i in range(partitions):
        last = i == partitions - 1
        slices.append(
            Slice(
                index=i,
                anchor_date=iso(bounds[i]),
                end_date=None if last and end is None else iso(bounds[i + 1]),
                token_env=token_envs[i % len(token_envs)],
            )
        )
    return slices


def _balanced_cuts(
    start: datetime,
    stop: datetime,
    parts: int,
    weights: t.Sequence[tuple[datetime, datetime, float]],
) -> list[datetime]:
    """The `parts - 1` inner boundaries that split the total weight evenly, assuming the
    weight is spread evenly inside each bucket; equal lengths without weights. Every bucket
    also weighs a little by its length, so that empty stretches are still shared out."""
    if not weights:
        return [start + i * (stop - start) / parts for i in range(1, parts)]
    span = (stop - start).total_seconds()
    total_work = sum(w for _, _, w in weights) or 1.0
    buckets = [
        (a, b, w + total_work * 0.05 * (b - a).total_seconds() / span) for a, b, w in weights
    ]
    total = sum(w for _, _, w in buckets)
    cuts, done = [], 0.0
    goal_index = 1
    for a, b, w in buckets:
        while goal_index < parts and done + w >= total * goal_index / parts:
            share = (total * goal_index / parts - done) / w if w else 0.0
            cuts.append(a + (b - a) * share)
            goal_index += 1
        done += w
    while len(cuts) < parts - 1:  # rounding at the very end
        cuts.append(stop - timedelta(seconds=parts - 1 - len(cuts)))
    return cuts


def incident_weights(
    base_url: str,
    tokens: t.Sequence[str],
    start: datetime,
    stop: datetime,
    buckets: int,
    requests_per_second: float,
) -> list[tuple[datetime, datetime, float]]:
    """How many incidents were created in each of `buckets` equal parts of the range: one
    `GET /incidents?total=true&limit=1` each, spread over the keys, each key paced at
    `requests_per_second`. Incidents (two child requests each) dominate a backfill's cost."""
    step = (stop - start) / buckets
    edges = [(start + i * step, start + (i + 1) * step) for i in range(buckets)]
    counts: dict[int, float] = {}

    def count_with(token: str, indexes: list[int]) -> None:
        with requests.Session() as session:
            for n, i in enumerate(indexes):
                if n:
                    time.sleep(1.0 / requests_per_second)
                a, b = edges[i]
                response = session.get(
                    f"{base_url.rstrip('/')}/incidents",
                    params={"since": iso(a), "until": iso(b), "total": "true", "limit": 1},
                    headers={"Authorization": f"Token token={token}", "Accept": ACCEPT},
                    timeout=60,
                )
                response.raise_for_status()
                counts[i] = float(response.json().get("total") or 0)

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        jobs = [
            pool.submit(count_with, token, list(range(k, buckets, len(tokens))))
            for k, token in enumerate(tokens)
        ]
        for job in jobs:
            job.result()
    return [(a, b, counts[i]) for i, (a, b) in enumerate(edges)]


def pagerduty_now(base_url: str, token: str, timeout: float = 30) -> datetime:
    """PagerDuty's clock, from the `Date` header of one cheap read (`GET /abilities`).

    The header is truncated to the second, so the true time is at or after it: using it as
    the backfill's start errs on the safe side (the change log is read a little earlier)."""
    response = requests.get(
        f"{base_url.rstrip('/')}/abilities",
        headers={"Authorization": f"Token token={token}", "Accept": ACCEPT},
        timeout=timeout,
    )
    if response.status_code in (401, 403):
        raise PermissionError(
            f"PagerDuty refused the key ({response.status_code}) when reading its clock: "
            "check the account's token_env variable."
        )
    date = response.headers.get("Date")
    if not date:
        raise RuntimeError("PagerDuty's answer has no Date header: cannot read its clock.")
    return email.utils.parsedate_to_datetime(date).astimezone(timezone.utc)


def hand_over_state(
    slice_states: t.Sequence[dict[str, t.Any] | None],
    started_at: datetime,
    change_feeds: t.Collection[str],
    log_entries: t.Iterable[dict[str, t.Any]] = (),
) -> dict[str, t.Any]:
    """The incremental sync's state after a backfill whose slices ended with `slice_states`."""
    if any(state is None for state in slice_states):
        raise ValueError("a slice has no state: it did not complete")
    states = [state or {} for state in slice_states]
    bookmarks: dict[str, dict[str, t.Any]] = {}
    for state in states:
        for stream, bookmark in state.get("bookmarks", {}).items():
            held = bookmarks.get(stream)
            if held is None or _position(bookmark) > _position(held):
                bookmarks[stream] = copy.deepcopy(bookmark)
    entries = list(log_entries)
    for stream in change_feeds:
        if not (bookmarks.get(stream) or {}).get("replication_key_value"):
            continue
        kind = STATE_TYPES.get(stream, Bookmark)
        held = kind.parse(stream, bookmarks[stream])
        position = min(t.cast("datetime", held.position()), started_at)
        # The tap's other incident feeds (open incidents, analytics, look-back) sit at fixed
        # offsets before the change log's position: `moved_to` moves them back with it.
        moved = held.moved_to(position)
        if isinstance(moved, IncidentsState):
            slices = [bookmark_of(s, stream, IncidentsState) for s in states]
            moved = moved.with_versions_of(slices)
            if stream == CHANGE_LOG_STREAM:
                moved.overlap_ids = _entries_before(entries, position)
        bookmarks[stream] = {**bookmarks[stream], **moved.to_state()}
    return {"bookmarks": bookmarks}


def _position(bookmark: dict[str, t.Any]) -> str:
    return str(bookmark.get("replication_key_value") or "")


def _entries_before(entries: list[dict[str, t.Any]], position: datetime) -> list[str]:
    """Ids of the log entries read in the overlap the tap re-reads before `position`."""
    since = position - CHANGE_LOG_OVERLAP
    return sorted(
        entry["id"]
        for entry in entries
        if entry.get("created_at") and since <= parse(entry["created_at"]) < position
    )


def incidents_missing_notes(
    tables: dict[str, dict[tuple, dict[str, t.Any]]], slices: t.Sequence[Slice]
) -> list[str]:
    """Incidents whose notes no slice read: the log shows a note added after the end of the
    slice that read the incident.

    The tap reads notes only for incidents whose log shows a note, and a slice reads the log
    of its own range only; the slices together read the whole log, so the union shows them."""
    entries = list(tables.get("log_entries", {}).values())
    with_notes = {r.get("incident_id") for r in tables.get("incident_notes", {}).values()}
    if len(slices) < 2 or not entries:  # one slice read the whole log itself
        return []
    in_backfill = {key[0] for key in tables.get("incidents", {})}
    return sorted((set(noted_incident_ids(entries)) & in_backfill) - with_notes)


def fetch_notes(
    base_url: str, token: str, incident_ids: t.Sequence[str], requests_per_second: float
) -> t.Iterator[dict[str, t.Any]]:
    """`GET /incidents/{id}/notes` of each incident, paced at `requests_per_second`; records
    as the tap's `incident_notes` stream writes them (with `incident_id`)."""
    with requests.Session() as session:
        for n, incident_id in enumerate(incident_ids):
            if n:
                time.sleep(1.0 / requests_per_second)
            response = session.get(
                f"{base_url.rstrip('/')}/incidents/{incident_id}/notes",
                headers={"Authorization": f"Token token={token}", "Accept": ACCEPT},
                timeout=60,
            )
            response.raise_for_status()
            for note in response.json().get("notes") or []:
                yield {**note, "incident_id": incident_id}
