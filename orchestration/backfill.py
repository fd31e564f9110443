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
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from orchestration.tap_engine import TapRequests
from tap_pagerduty.state import Bookmark, IncidentsState, bookmark_of
from tap_pagerduty.streams import STATE_TYPES
from tap_pagerduty.streams.incidents import CHANGE_LOG_OVERLAP, noted_incident_ids

# Records whose stream bookmarks on this key change after they are read.
CHANGE_FEED_KEY = "updated_at"
CHANGE_LOG_STREAM = "incidents"


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

    With `weights` (buckets covering the range with the requests expected for each, see
    `request_weights`), the slices get equal shares of the requests rather than equal
    lengths: incidents are rarely spread evenly over the years, every slice runs at the same
    rate, and the slowest slice sets the backfill's wall time."""
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
    """The `parts - 1` inner boundaries that split the total weight (expected requests)
    evenly, assuming it is spread evenly inside each bucket; equal lengths without weights."""
    if not weights or not sum(w for _, _, w in weights):
        return [start + i * (stop - start) / parts for i in range(1, parts)]
    buckets = list(weights)
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


# What a slice costs, in requests, from what a bucket of its range holds. Nearly every request
# of a backfill follows an incident: its children (alerts, custom field values; notes for those
# the log shows noted) and its share of the pages of the log, notifications and audit records
# (1.16 requests per incident over B8's year of 2,000 incidents). The rest is one request per
# window per time-ordered stream, whatever the incidents.
REQUESTS_PER_INCIDENT = 1.15
REQUESTS_PER_DAY = 0.1


def expected_requests(incidents: float, start: datetime, stop: datetime) -> float:
    """The requests a tap run is expected to send for a range holding `incidents`."""
    days = (stop - start).total_seconds() / 86400
    return incidents * REQUESTS_PER_INCIDENT + days * REQUESTS_PER_DAY


def request_weights(
    counts: t.Sequence[tuple[datetime, datetime, float]],
) -> list[tuple[datetime, datetime, float]]:
    """Buckets weighed by the requests expected for them (see `expected_requests`)."""
    return [(a, b, expected_requests(n, a, b)) for a, b, n in counts]


def incident_counts(
    requesters: t.Sequence[TapRequests], start: datetime, stop: datetime, buckets: int
) -> list[tuple[datetime, datetime, float]]:
    """How many incidents were created in each of `buckets` equal parts of the range: one
    `GET /incidents?total=true&limit=1` each, spread over `requesters` (one thread each, each
    paced by its own engine)."""
    step = (stop - start) / buckets
    edges = [(start + i * step, start + (i + 1) * step) for i in range(buckets)]
    counts: dict[int, float] = {}

    def count_with(requester: TapRequests, indexes: list[int]) -> None:
        for i in indexes:
            a, b = edges[i]
            params = {"since": iso(a), "until": iso(b), "total": "true", "limit": 1}
            counts[i] = float(requester.get("/incidents", params).get("total") or 0)

    with ThreadPoolExecutor(max_workers=len(requesters)) as pool:
        jobs = [
            pool.submit(count_with, requester, list(range(k, buckets, len(requesters))))
            for k, requester in enumerate(requesters)
        ]
        for job in jobs:
            job.result()
    return [(a, b, counts[i]) for i, (a, b) in enumerate(edges)]


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
        parsed = kind.parse(stream, bookmarks[stream])
        position = min(t.cast("datetime", parsed.position()), started_at)
        # The tap's other incident feeds (open incidents, analytics, look-back) sit at fixed
        # offsets before the change log's position: `moved_to` moves them back with it.
        moved = parsed.moved_to(position)
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
    """Incidents given a note after the end of the slice that read them.

    A slice reads the log of its own range only (`notes_log_end`: `end_date`), so it reads
    the notes of the incidents noted by then; the slices together read the whole log, so its
    union shows the notes added later, which the hand-over reads."""
    entries = list(tables.get("log_entries", {}).values())
    ends = [(parse(s.anchor_date), parse(s.end_date) if s.end_date else None) for s in slices]
    slice_end: dict[str, datetime | None] = {}
    for incident in tables.get("incidents", {}).values():
        created = incident.get("created_at")
        if created:
            moment = parse(created)
            slice_end[incident["id"]] = next(
                (end for start, end in ends if start <= moment and (end is None or moment < end)),
                None,
            )
    late = [
        entry
        for entry in entries
        if entry.get("incident")
        and slice_end.get(entry["incident"]["id"]) is not None
        and parse(entry["created_at"]) >= t.cast(datetime, slice_end[entry["incident"]["id"]])
    ]
    return sorted(set(noted_incident_ids(late)))


def fetch_notes(
    requesters: t.Sequence[TapRequests], incident_ids: t.Sequence[str]
) -> list[dict[str, t.Any]]:
    """`GET /incidents/{id}/notes` of each incident through the tap's engine, the incidents
    spread over `requesters` (one thread each, each paced by its own engine); records as the
    tap's `incident_notes` stream writes them (with `incident_id`), in the order of
    `incident_ids`."""
    notes: dict[str, list[dict[str, t.Any]]] = {}

    def fetch_with(requester: TapRequests, ids: t.Sequence[str]) -> None:
        for incident_id in ids:
            answer = requester.get(f"/incidents/{incident_id}/notes")
            notes[incident_id] = [
                {**note, "incident_id": incident_id} for note in answer.get("notes") or []
            ]

    shares = [incident_ids[k :: len(requesters)] for k in range(len(requesters))]
    with ThreadPoolExecutor(max_workers=len(requesters)) as pool:
        jobs = [
            pool.submit(fetch_with, r, ids)
            for r, ids in zip(requesters, shares, strict=True)
            if ids
        ]
        for job in jobs:
            job.result()
    return [note for incident_id in incident_ids for note in notes[incident_id]]
