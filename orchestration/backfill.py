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

The tap re-reads its change log from 10 minutes before the bookmark and skips the log entries
listed in `overlap_ids`; the hand-over lists there the log entries the backfill read in those
10 minutes, so that the first incremental run does not emit those incidents again.
"""

from __future__ import annotations

import copy
import email.utils
import typing as t
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import requests

from tap_pagerduty.streams.base import OverlapTail
from tap_pagerduty.streams.incidents import CHANGE_LOG_OVERLAP

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
) -> list[Slice]:
    """`partitions` slices of equal length over [anchor, end or now), keys round-robin."""
    stop = end or now
    if stop <= anchor:
        raise ValueError(f"the range is empty: {iso(anchor)} .. {iso(stop)}")
    step = (stop - anchor) / partitions
    if step < timedelta(minutes=1):
        raise ValueError(f"{partitions} partitions over {stop - anchor} is less than a minute each")
    bounds = [anchor + i * step for i in range(partitions)] + [stop]
    bounds = [b.replace(microsecond=0) for b in bounds]
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
    bookmarks: dict[str, dict[str, t.Any]] = {}
    for state in slice_states:
        for stream, bookmark in (state or {}).get("bookmarks", {}).items():
            held = bookmarks.get(stream)
            if held is None or _position(bookmark) > _position(held):
                bookmarks[stream] = copy.deepcopy(bookmark)
    entries = list(log_entries)
    for stream in change_feeds:
        bookmark = bookmarks.get(stream)
        if not bookmark or not bookmark.get("replication_key_value"):
            continue
        position = min(parse(bookmark["replication_key_value"]), started_at)
        bookmark["replication_key_value"] = iso(position)
        if stream == CHANGE_LOG_STREAM:
            bookmark[OverlapTail.STATE_KEY] = _entries_before(entries, position)
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
