"""Incidents and their history: incidents, alerts, notes, log entries, notifications.

`/incidents` filters only on creation time, yet incidents change for weeks after they are
created (acknowledged, reassigned, escalated, re-prioritised, resolved, retitled). So the
incidents stream reads creation windows once (the backfill) and afterwards follows changes
through several feeds, each with its own position in state:

* the change log, `/log_entries?include[]=incidents`: every logged change, at once;
* the open incidents (`statuses[]=triggered|acknowledged`): any change to an open incident;
* PagerDuty analytics (`updated_after`): any change that moves `updated_at`, up to
  `analytics_lag_hours` late, where the account has analytics;
* a look-back rescan of recent creation windows (`reconcile_days`), for accounts without it.

Changes that write no log entry (priority, title, note edits) are caught by the last three.
"""

from __future__ import annotations

import itertools
import time
import typing as t
from collections import deque
from datetime import datetime, timedelta

from tap_pagerduty.availability import UNAVAILABLE_STATUSES
from tap_pagerduty.engine import cancel
from tap_pagerduty.errors import PagerDutyAPIError
from tap_pagerduty.run import Slot
from tap_pagerduty.settings import DEFAULT_RECONCILE_DAYS_WITHOUT_ANALYTICS
from tap_pagerduty.state import FEEDS, IncidentsState, NotedLog, OverlapBookmark, SilentFeeds
from tap_pagerduty.streams.base import (
    ChildStream,
    IncrementalStream,
    OverlapTail,
    ParentStream,
    Records,
    WindowedStream,
)
from tap_pagerduty.streams.history import analytics_pages
from tap_pagerduty.streams.metrics import access_filter_batches
from tap_pagerduty.streams.single_page import SinglePageChild
from tap_pagerduty.windows import Window, iso_z, parse_time, windows_between

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_pagerduty.output import FastSingerWriter
    from tap_pagerduty.prefetch import Request

# PagerDuty allows `/incidents` windows of at most 6 months.
INCIDENT_WINDOW = timedelta(days=180)
# Change-log windows; denser ones are split automatically.
CHANGE_LOG_WINDOW = timedelta(days=31)
# How far ahead of the incidents being emitted a backfill reads the change log for notes:
# the notes of an incident whose first note comes later are synced when the log reaches it.
NOTE_LEAD = timedelta(days=1)
# The change log read for notes in windows of this size: a resumed backfill reads again at
# most about one window and the lead (see NoteGate).
NOTE_LOG_WINDOW = timedelta(days=7)
# A backfill's checkpoints stay under 1/(STATE_SHARE_RATIO + 1) of its output's bytes.
STATE_SHARE_RATIO = 20
# Re-read the change log this far before the bookmark, for entries listed late.
CHANGE_LOG_OVERLAP = timedelta(minutes=10)
# The open incidents, whenever created.
OPEN_QUERY = {"date_range": "all", "statuses[]": ["triggered", "acknowledged"]}
# Creation windows, oldest first: a killed backfill resumes after its last emitted incident.
BACKFILL = {"sort_by": "created_at:asc"}


class ChildChoices:
    """What the incidents stream decided, in this run, about its children: which incidents'
    notes to read, and which incidents are emitted again only for their notes or custom field
    values (their alerts are already synced). Handed to the children through the run
    (`CHILD_CHOICES`), filled as the stream goes."""

    def __init__(self) -> None:
        #: Incidents whose notes must be read in this run (see IncidentNotesStream).
        self.notes_wanted: set[str] = set()
        #: Incidents emitted again only for their notes or custom field values.
        self.notes_only: set[str] = set()
        #: While a first backfill runs with notes selected: which incidents have notes.
        self.gate: NoteGate | None = None

    def notes_needed(self, incident: dict[str, t.Any]) -> bool:
        """Whether the notes of an incident about to be emitted must be read (asked on the
        main thread as its children are requested, a few incidents ahead). In a backfill the
        change log is read just far enough to know (`NoteGate`)."""
        if self.gate is not None:
            self.gate.advance(parse_time(incident["created_at"]) + NOTE_LEAD)
            self.notes_wanted.update(self.gate.take_noted([incident]))
        return incident["id"] in self.notes_wanted

    def alerts_needed(self, incident: dict[str, t.Any]) -> bool:
        return incident["id"] not in self.notes_only


#: The incidents stream's decisions about its children, for its children (see run.py).
CHILD_CHOICES: Slot[ChildChoices] = Slot("which incidents' alerts and notes to read")
#: What the `log_entries` stream read of the change log in this run, for the incidents stream:
#: which incidents have notes (its backfill's note gating) and, when the incidents stream
#: follows changes in this run (`CHANGE_LOG_ENTRIES` wanted), every entry in short form with
#: the incidents embedded, so that the change feed need not read the log again.
CHANGE_LOG: Slot[SharedLogRead] = Slot("the change log read by log_entries")
CHANGE_LOG_ENTRIES: Slot[SharedLogRead] = Slot("the change log's entries with their incidents")


class IncidentsStream(ParentStream, IncrementalStream):
    """Every incident created since `anchor_date`, in its latest version.

    State: `replication_key_value` is the point up to which PagerDuty's change log has been
    read; `silent_from` holds the same for the feeds that catch changes the log misses;
    `versions` the `updated_at` of incidents emitted recently (so that no feed emits a
    version the target already has). While the first backfill runs, `backfill_from` marks
    how far it got (the creation time of the last incident fully emitted, children included).
    """

    name = "incidents"
    path = "/incidents"
    # The change log, analytics' changed incidents and the current version of each.
    also_sends = ("GET /log_entries", "POST /analytics/raw/incidents", "GET /incidents/{id}")
    access_kind = "service_ids"
    replication_key = "updated_at"
    child_key = "incident_id"
    max_window = INCIDENT_WINDOW
    overlap = CHANGE_LOG_OVERLAP
    state_type = IncidentsState
    pages_ahead = 1
    uses = (CHANGE_LOG, CHANGE_LOG_ENTRIES)
    produces = (CHILD_CHOICES,)

    def reads(self, slot: Slot[t.Any]) -> bool:
        """The log's entries only when changes are followed (after the first backfill)."""
        return slot is not CHANGE_LOG_ENTRIES or self.bookmark() is not None

    def records_ahead(self) -> int:
        """Children of a few incidents ahead only: the backfill resumes after the last
        incident written, so what was fetched further ahead would be lost to a kill."""
        return 2 * self.settings.max_concurrency

    def children_ahead(self) -> bool:
        """Only a first backfill emits every incident it reads (later feeds filter)."""
        return self.bookmark() is None

    def lookahead_requests(self) -> list[Request]:
        """The first creation windows of a backfill, or the open-incident rescan."""
        _start, end = self.plan()
        bookmark = self.bookmark()
        unfinished = self.state.backfill_from
        if bookmark is None or unfinished:
            start = parse_time(unfinished) if unfinished else self.settings.anchor_date
            windows = itertools.islice(windows_between(start, end, INCIDENT_WINDOW), 1)
            return [
                (self.path, self.first_page_query({**BACKFILL, **w.params()}), None)
                for w in windows
            ]
        if end - self.overlap > self._silent_positions(bookmark)["open"]:
            return [(self.path, self.first_page_query(OPEN_QUERY), None)]
        return []

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        _start, end = self.plan()
        bookmark = self.bookmark()
        self.versions = Versions(self.state.versions, self.state.notes_unread)
        #: Which incidents' notes and alerts the children read (handed to them by the run).
        self.choices = ChildChoices()
        self.run.put(CHILD_CHOICES, self.choices, self)
        #: Feeds that are off in this run (their position holds no version back).
        self.feeds_off: set[str] = set()
        #: Incidents whose log shows a custom field value edit in this run: emitted again
        #: even in the same version, so that their values are read again.
        self.values_edited: set[str] = set()
        #: Incidents emitted in this run (with their children), kept in incremental runs
        #: only (a backfill emits every incident: its memory stays flat).
        self.emitted: set[str] = set()
        self.track_emitted = bookmark is not None
        if bookmark is None:  # first sync: backfill; changes are followed from `end` on
            self.silent_from = self._silent_start(end)
            self.versions.forget_before(self._oldest_position(end))
            yield from self._backfill(self.settings.anchor_date, end, changes_from=end)
            return
        self.silent_from = self._silent_positions(bookmark)
        self.versions.forget_before(self._oldest_position(bookmark))
        unfinished = self.state.backfill_from
        if unfinished:  # a backfill was interrupted: finish it, then follow changes
            yield from self._backfill(parse_time(unfinished), end, changes_from=bookmark)
        yield from self._follow_silent_changes(end, bookmark)
        if bookmark < end:
            yield from self._follow_changes(bookmark - self.overlap, end)
        yield from self._reread_values(end)

    # -- state -------------------------------------------------------------------------------

    def _silent_start(self, end: datetime) -> dict[str, datetime]:
        """Where the silent-change feeds start after a first backfill that began at `end`:
        every change made while the backfill runs is read again by the next run."""
        return {
            "open": end - self.overlap,
            "analytics": end - self._analytics_lag(),
            "lookback": end - self.overlap,
        }

    def _silent_positions(self, bookmark: datetime) -> dict[str, datetime]:
        saved = self.state.feed_positions()
        # A feed without a position (off until now, or a state written before the feeds
        # existed) starts one analytics lag before the change-log bookmark.
        start = bookmark - self._analytics_lag()
        return {feed: parse_time(value) if (value := saved[feed]) else start for feed in FEEDS}

    @property
    def state(self) -> IncidentsState:
        return t.cast("IncidentsState", self.saved)

    def _analytics_lag(self) -> timedelta:
        return max(self.settings.analytics_lag, self.overlap)

    def _oldest_position(self, changes_from: datetime) -> datetime:
        """The earliest position of a feed that is on: versions older than it are never
        asked about again (a feed that is off holds nothing back)."""
        on = [moment for feed, moment in self.silent_from.items() if feed not in self.feeds_off]
        return min([*on, changes_from - self.overlap])

    def _save(self, changes_from: datetime, **extra: t.Any) -> None:
        """Checkpoint every feed's position; versions older than all of them are dropped."""
        self.versions.forget_before(self._oldest_position(changes_from))
        feeds = {
            feed: None if feed in self.feeds_off else iso_z(moment)
            for feed, moment in self.silent_from.items()
        }
        self.checkpoint(
            changes_from,
            silent_from=SilentFeeds(**feeds),
            versions=dict(self.versions.latest),
            notes_unread=sorted(self.versions.notes_unread),
            **extra,
        )

    # -- the first sync: creation windows ------------------------------------------------

    def _backfill(
        self, start: datetime, end: datetime, changes_from: datetime
    ) -> Iterator[dict[str, t.Any]]:
        """Creation windows from `start`, oldest first. Notes are read only for incidents
        whose log shows a note (one log request per 100 entries instead of one notes request
        per incident): the change log is read alongside, a little ahead (see `NoteGate`).
        Checkpoints carry positions only: where the creation windows and the log got."""
        # Incidents created in the second the backfill resumes at, already emitted.
        resumed = ResumePoint(iso_z(start), self.state.backfill_done)
        gate: NoteGate | None = None
        if self.selected_child(IncidentNotesStream.name) is not None:
            # Up to PagerDuty's now even with an `end_date`: a note may be added to an
            # incident of the range at any time after it (unless the caller reads those
            # later notes itself: `notes_log_end`).
            log_end = end
            if self.settings.extra.notes_log_end == "now":
                log_end = max(end, self.server_now() + timedelta(seconds=1))
            shared = self.run.get(CHANGE_LOG, self)
            gate = NoteGate(self, resumed, self.state.noted, log_end, shared)
            self.choices.gate = gate
        progress = self.progress(start, end)
        windows = windows_between(start, end, INCIDENT_WINDOW)
        writer = t.cast("FastSingerWriter", self.tap.message_writer)  # message_writer_class
        pacer = Pacer(1.0 / self.settings.requests_per_second, writer)
        self._save(changes_from, **resumed.state(), noted=gate and gate.saved())
        # One window and one page ahead: the children of a page take far longer than the
        # next page, and a killed run loses only what was read ahead.
        pages = PeekablePages(
            self.window_pages(
                self.path, BACKFILL, windows, lookahead=1, pages_ahead=self.pages_ahead
            )
        )

        def upcoming() -> Records:
            """The incidents the next page will emit (their children are requested ahead)."""
            return [
                i
                for i in pages.next_records()
                if not resumed.emitted(i) and self.versions.is_newer(i)
            ]

        for window, page in pages:
            if page is None:
                resumed.moved_to(iso_z(window.end))
                self._save(changes_from, **resumed.state(), noted=gate and gate.saved())
                progress.window_done(window)
                continue
            progress.count(len(page))
            page = [i for i in page if not resumed.emitted(i)]
            for incident in self._emit_remembering(self._newer(page, notes_read=True), upcoming):
                yield incident
                # The SDK has written the incident and its children: a killed run may resume
                # at its creation time (at most one checkpoint per request slot; positions
                # only, the versions remembered are written at the backfill's end).
                resumed.passed(incident)
                if gate is not None:
                    self._sync_late_notes(gate)
                if pacer.due():
                    self.save_progress(**resumed.state(), noted=gate and gate.saved())
        if gate is not None:
            gate.advance(gate.end)
            self._sync_late_notes(gate)
        self.choices.gate = None
        self._save(changes_from, backfill_from=None, backfill_done=None, noted=None)

    def _sync_late_notes(self, gate: NoteGate) -> None:
        """Notes of incidents already emitted whose log shows a note further on than the
        log was read when they were: their notes are synced now (as the SDK syncs the
        children of an emitted record), without emitting the incident again."""
        late = gate.take_late()
        if not late:
            return
        notes = self.selected_child(IncidentNotesStream.name)
        if notes is None:  # the gate runs only when notes are selected
            return
        self.choices.notes_wanted.update(late)
        notes.prepare(list(late.values()))  # requested at once, concurrently
        for incident_id in late:
            notes.sync({"incident_id": incident_id})

    # -- later runs: the change feeds ------------------------------------------------------

    def _follow_changes(self, start: datetime, end: datetime) -> Iterator[dict[str, t.Any]]:
        """The change log: every logged change, with the incident in its current version."""
        shared = self.run.get(CHANGE_LOG_ENTRIES, self)
        if shared is not None and shared.covers(start, end):
            yield from self._follow_shared_changes(shared, start, end)
            return
        progress = self.progress(start, end)
        tail = OverlapTail(self, end)
        windows = windows_between(start, end, CHANGE_LOG_WINDOW)
        params = {"include[]": ["incidents"]}
        pages = self.window_pages("/log_entries", params, windows, key="log_entries")
        for window, entries in pages:
            if entries is None:
                self._save(window.end, **tail.state_at(window.end))
                progress.window_done(window)
                continue
            entries = tail.unseen(entries, "created_at")
            self.choices.notes_wanted.update(
                e["incident"]["id"] for e in entries if is_note(e) and e.get("incident")
            )
            self.values_edited.update(
                e["incident"]["id"] for e in entries if is_value_edit(e) and e.get("incident")
            )
            changed = [e["incident"] for e in entries if self._in_range(e.get("incident"))]
            progress.count(len(changed))
            notes_read = [i["id"] in self.choices.notes_wanted for i in changed]
            yield from self._emit_remembering(self._newer(changed, notes_read))

    def _follow_shared_changes(
        self, shared: SharedLogRead, start: datetime, end: datetime
    ) -> Iterator[dict[str, t.Any]]:
        """The change log as the `log_entries` stream read it in this run (one read)."""
        tail = OverlapTail(self, end)
        since, until = iso_z(start), iso_z(end)
        entries = [e for e in shared.entries or () if since <= e["created_at"] < until]
        entries = tail.unseen(entries, "created_at")
        self.choices.notes_wanted.update(e["incident_id"] for e in entries if e["note"])
        self.values_edited.update(e["incident_id"] for e in entries if e["value_edit"])
        changed = [shared.incidents[e["incident_id"]] for e in entries]
        changed = [i for i in changed if self._in_range(i)]
        notes_read = [i["id"] in self.choices.notes_wanted for i in changed]
        yield from self._emit_remembering(self._newer(changed, notes_read))
        self._save(end, **tail.state_at(end))

    def _follow_silent_changes(
        self, end: datetime, changes_from: datetime
    ) -> Iterator[dict[str, t.Any]]:
        """The feeds for changes that write no log entry. Notes are read for every incident
        they emit: a note edit is one such change."""
        moved_on = end - self.overlap
        if moved_on > self.silent_from["open"]:  # PagerDuty's clock moved since the last look
            opened = self.classic_pages(self.path, OPEN_QUERY)
            yield from self._emit_silent(opened, since=self.silent_from["open"])
            self.silent_from["open"] = moved_on
            self._save(changes_from)

        rows, unavailable = self._analytics_changes(end)
        if not unavailable:
            yield from self._emit_silent(self._reread(rows), since=None)
            self.silent_from["analytics"] = end - self._analytics_lag()
            self._save(changes_from)
        lookback = self.settings.reconcile_days
        if lookback is None:
            lookback = DEFAULT_RECONCILE_DAYS_WITHOUT_ANALYTICS if unavailable else 0
        if unavailable:
            self.feeds_off.add("analytics")
            self._warn_uncovered(unavailable, lookback)
        if not lookback:
            self.feeds_off.add("lookback")
        if lookback and moved_on > self.silent_from["lookback"]:
            start = max(self.settings.anchor_date, end - timedelta(days=lookback))
            windows = windows_between(start, end, INCIDENT_WINDOW)
            pages = self.window_pages(self.path, {}, windows)
            recent = (page for _window, page in pages if page)
            yield from self._emit_silent(recent, since=self.silent_from["lookback"])
            self.silent_from["lookback"] = moved_on
            self._save(changes_from)
        # A feed this run does not use (no analytics; no look-back) moves along all the same:
        # its position would otherwise hold every version emitted since in state, for ever.
        if unavailable:
            self.silent_from["analytics"] = end - self._analytics_lag()
        if not lookback:
            self.silent_from["lookback"] = moved_on
        self._save(changes_from)

    def _reread_values(self, end: datetime) -> Iterator[dict[str, t.Any]]:
        """Custom field value edits that leave no trace (neither `updated_at` nor a log
        entry: PagerDuty does not document which it does) are caught only by reading the
        values again: those of incidents created in the last `custom_field_values_reread_days`
        days, on every run, each incident once (alerts and notes are not read again)."""
        if self.selected_child("incident_custom_field_values") is None:
            return
        days = self.settings.extra.values_reread_days
        covered = f"incidents created in the last {days} days" if days else "no incident"
        self.logger.info(
            "incident_custom_field_values: a value edit that neither moves the incident's "
            "updated_at nor writes a log entry is caught only for %s "
            "(setting 'custom_field_values_reread_days')",
            covered,
        )
        if not days:
            return
        start = max(self.settings.anchor_date, end - timedelta(days=days))
        pages = self.window_pages(self.path, {}, windows_between(start, end, INCIDENT_WINDOW))
        for _window, page in pages:
            if not page:
                continue
            page = [i for i in page if self._in_range(i) and i["id"] not in self.emitted]
            self.values_edited.update(i["id"] for i in page)
            yield from self._emit_remembering(self._newer(page, notes_read=False))

    def _analytics_changes(self, end: datetime) -> tuple[Records, str]:
        """Analytics rows of incidents changed since the version emitted last, and why
        analytics is unavailable (402/403/404/410, see `availability`), if it is."""
        filters = {
            "created_at_start": iso_z(self.settings.anchor_date),
            "created_at_end": iso_z(end),
            "updated_after": iso_z(self.silent_from["analytics"]),
        }
        changed: dict[str, dict[str, t.Any]] = {}
        try:
            # OAuth and user-level keys must filter by id (all services, in parts).
            for access in access_filter_batches(self):
                for page in analytics_pages(self, {**filters, **access}):
                    changed.update((r["id"], r) for r in page if self.versions.wants(r))
        except PagerDutyAPIError as error:
            if error.status not in UNAVAILABLE_STATUSES:
                raise
            return [], str(error)
        return list(changed.values()), ""

    def _warn_uncovered(self, reason: str, lookback: int) -> None:
        covered = (
            f"for incidents created in the last {lookback} days"
            if lookback
            else "for no other incidents"
        )
        self.logger.warning(
            "incidents: PagerDuty analytics is not available to this token (%s); changes "
            "that write no log entry (priority, title, note edits) are caught only for open "
            "incidents and %s (setting 'reconcile_days')",
            reason,
            covered,
        )

    def _reread(self, rows: list[dict[str, t.Any]]) -> Iterator[Records]:
        """The current version of each incident an analytics row names, read concurrently."""
        futures = [self.engine.submit(self.fetch, f"{self.path}/{row['id']}") for row in rows]
        try:
            for future in futures:
                try:
                    yield [future.result()["incident"]]
                except PagerDutyAPIError as error:
                    if error.status != 404:  # merged or deleted since: nothing to update
                        raise
        finally:
            cancel(futures)

    def _emit_silent(
        self, pages: Iterable[Records], since: datetime | None
    ) -> Iterator[dict[str, t.Any]]:
        """Emit incidents that changed after `since` in a version not emitted yet, or whose
        version was emitted without reading its notes (a note edit may hide in it)."""
        for page in pages:
            fresh: dict[str, dict[str, t.Any]] = {}
            for incident in page:
                if not self._in_range(incident) or not self.versions.wants(incident):
                    continue
                if since is not None and parse_time(incident["updated_at"]) < since:
                    continue
                if self.versions.is_newer(incident):
                    self.choices.notes_only.discard(incident["id"])
                else:
                    self.choices.notes_only.add(incident["id"])
                fresh[incident["id"]] = incident
            self.choices.notes_wanted.update(fresh)
            yield from self._emit_remembering([(i, True) for i in fresh.values()])

    # -- helpers -----------------------------------------------------------------------------

    def _in_range(self, incident: dict[str, t.Any] | None) -> bool:
        """An incident created inside [anchor_date, end_date)."""
        if not incident or "created_at" not in incident:
            return False
        created = parse_time(incident["created_at"])
        end = self.settings.end_date
        return created >= self.settings.anchor_date and (end is None or created < end)

    def _newer(
        self, incidents: Records, notes_read: bool | list[bool]
    ) -> list[tuple[dict[str, t.Any], bool]]:
        """The incidents in a version not emitted yet (in this run, or recently by an
        earlier one), one per incident, each with whether its notes are read with it."""
        flags = notes_read if isinstance(notes_read, list) else [notes_read] * len(incidents)
        fresh: dict[str, tuple[dict[str, t.Any], bool]] = {}
        for incident, read in zip(incidents, flags, strict=True):
            known = fresh.get(incident["id"])
            if self.versions.is_newer(incident) and (
                known is None or _version(incident) > _version(known[0])
            ):
                self.choices.notes_only.discard(incident["id"])
                self.values_edited.discard(incident["id"])
                fresh[incident["id"]] = (incident, read)
            elif (
                known is None
                and incident["id"] in self.values_edited
                and incident["id"] not in self.emitted
            ):
                # A value edit that did not move `updated_at`: the same version again, for
                # its values (alerts skipped; notes as the version's own state says).
                self.values_edited.discard(incident["id"])
                self.choices.notes_only.add(incident["id"])
                fresh[incident["id"]] = (incident, read or self.versions.notes_read(incident))
        return list(fresh.values())

    def _emit_remembering(
        self,
        batch: list[tuple[dict[str, t.Any], bool]],
        upcoming: Callable[[], Records] | None = None,
    ) -> Iterator[dict[str, t.Any]]:
        """Emit, remembering each version only once the SDK has written it and its
        children: a checkpoint in the middle of a batch never claims what is not out yet."""
        notes_read = {incident["id"]: read for incident, read in batch}
        for incident in self.emit([incident for incident, _read in batch], upcoming):
            yield incident
            if self.track_emitted:
                self.emitted.add(incident["id"])
            self.versions.remember(incident, notes_read[incident["id"]])


class PeekablePages:
    """`window_pages` with a look at the next page before the current one is done (the
    items stay in order: a window's end still comes after its last page)."""

    def __init__(self, pages: Iterator[tuple[Window, Records | None]]) -> None:
        self.pages = pages
        self.read: deque[tuple[Window, Records | None]] = deque()

    def __iter__(self) -> PeekablePages:
        return self

    def __next__(self) -> tuple[Window, Records | None]:
        return self.read.popleft() if self.read else next(self.pages)

    def next_records(self) -> Records:
        """The records of the next page (reading on past window ends), [] at the end."""
        for _window, records in self.read:
            if records:
                return records
        for item in self.pages:
            self.read.append(item)
            if item[1]:
                return item[1]
        return []


class ResumePoint:
    """Where a killed backfill resumes: the creation time of the last incident emitted (the
    listing is sorted by it, `since` is inclusive) and the ids already emitted in that
    second, which the resumed run skips."""

    def __init__(self, second: str, done: list[str] | None) -> None:
        self.second = second
        self.done: list[str] = list(done or [])

    def emitted(self, incident: dict[str, t.Any]) -> bool:
        """Whether the backfill has emitted this incident (it goes by creation time)."""
        created = str(incident.get("created_at") or "")
        return created < self.second or (created == self.second and incident["id"] in self.done)

    def moved_to(self, second: str) -> None:
        self.second = second
        self.done = []

    def passed(self, incident: dict[str, t.Any]) -> None:
        if incident["created_at"] != self.second:
            self.second = incident["created_at"]
            self.done = []
        self.done.append(incident["id"])

    def state(self) -> dict[str, t.Any]:
        return {"backfill_from": self.second, "backfill_done": list(self.done)}


class Pacer:
    """When a backfill checkpoints: at most once per `interval` seconds (one request slot),
    and only once the output written since the last checkpoint is `ratio` times the last
    STATE line (`writer`'s counts, in bytes): STATE stays under 1/(ratio + 1) of the output
    at any account size, and a killed run loses only the last few incidents."""

    def __init__(
        self, interval: float, writer: FastSingerWriter, ratio: int = STATE_SHARE_RATIO
    ) -> None:
        self.interval = interval
        self.writer = writer
        self.ratio = ratio
        self.last = time.monotonic()
        self.since = self._written()

    def _written(self) -> int:
        return self.writer.written

    def due(self) -> bool:
        now = time.monotonic()
        output = self._written()
        state = self.writer.last_state_size
        if now - self.last < self.interval or output - self.since < self.ratio * state:
            return False
        self.last = now
        self.since = output
        return True


class NoteGate:
    """Which incidents of a backfill have notes, from the change log read alongside it.

    The log is read in `NOTE_LOG_WINDOW`s, kept `NOTE_LEAD` ahead of the creation time of
    the incidents being emitted. A note entry of an incident not emitted yet marks it to be
    read with its notes (`take_noted`); one of an incident already emitted without its notes
    (the note came later than the lead) has its notes synced then (`take_late`).

    Only `until` is saved (`noted.until`): note entries before it were all acted on. A
    resumed backfill reads the log again from where its creation windows stopped (the log
    of incidents not emitted yet starts there), at most one window and the lead ahead."""

    def __init__(
        self,
        stream: IncidentsStream,
        position: ResumePoint,
        saved: NotedLog | None,
        end: datetime,
        shared: SharedLogRead | None,
    ) -> None:
        self.stream = stream
        self.position = position
        self.end = end
        start = parse_time(position.second)
        self.handled_until = parse_time(saved.until) if saved and saved.until else start
        self.noted: set[str] = set()
        self.late: dict[str, dict[str, t.Any]] = {}
        self.notes_read: set[str] = set()
        #: Incidents whose notes were decided on in this run (their children requested).
        self.decided: set[str] = set()
        read_from = min(start, self.handled_until)
        self.until = read_from
        if shared is not None and shared.start <= read_from < shared.end:
            # The `log_entries` stream read the log in this run: its notes are known.
            self.noted = set(shared.noted)
            self.until = self.handled_until = read_from = max(self.handled_until, shared.end)
        # What a killed run had read beyond where it stopped is read again as one window.
        rest_from = max(read_from, self.handled_until)
        again = [Window(read_from, rest_from)] if read_from < rest_from else []
        windows = itertools.chain(again, windows_between(rest_from, end, NOTE_LOG_WINDOW))
        params = {"include[]": ["incidents"]}
        # One window ahead: a killed run loses, and a resumed one reads again, little.
        self.pages = stream.window_pages(
            "/log_entries", params, windows, key="log_entries", lookahead=2
        )

    def advance(self, to: datetime) -> None:
        """Read the log up to `to` (or its end)."""
        to = min(to, self.end)
        while self.until < to:
            item = next(self.pages, None)
            if item is None:
                self.until = self.end
                break
            window, entries = item
            if entries is None:
                self.until = window.end
                continue
            for entry in entries:
                if is_note(entry):
                    self._take(entry)

    def _take(self, entry: dict[str, t.Any]) -> None:
        incident = entry.get("incident")
        if not isinstance(incident, dict) or not self.stream._in_range(incident):
            return
        incident_id = incident["id"]
        if incident_id in self.notes_read:
            return  # its notes were read in this run, after this entry was written
        if incident_id in self.decided:  # asked about in this run: no note known then
            self.late[incident_id] = incident
        elif not self.position.emitted(incident):
            self.noted.add(incident_id)
        elif parse_time(entry["created_at"]) >= self.handled_until:
            self.late[incident_id] = incident  # emitted by the run that saved the state

    def take_noted(self, page: Records) -> set[str]:
        """The incidents of `page` (about to be emitted) whose notes must be read."""
        ids = {incident["id"] for incident in page if incident["id"] in self.noted}
        self.noted -= ids
        self.notes_read |= ids
        self.decided.update(incident["id"] for incident in page)
        return ids

    def take_late(self) -> dict[str, dict[str, t.Any]]:
        late, self.late = self.late, {}
        self.notes_read.update(late)
        return late

    def saved(self) -> NotedLog:
        return NotedLog(until=iso_z(max(self.until, self.handled_until)))


class SharedLogRead:
    """What the `log_entries` stream read completely in this run, [start, end), for the
    incidents stream: which incidents' log shows a note (the backfill's note gating) and,
    when asked to keep changes, every entry in short form with the latest version of each
    incident embedded (`include[]=incidents`), so the change feed need not read it again."""

    def __init__(self, start: datetime, end: datetime, *, keep_changes: bool) -> None:
        self.start = start
        self.end = end
        self.noted: set[str] = set()
        self.entries: Records | None = [] if keep_changes else None
        self.incidents: dict[str, dict[str, t.Any]] = {}

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.entries is not None and self.start <= start and end <= self.end

    def take(self, page: Records) -> None:
        """Remember what the incidents stream needs from a page; embedded incidents are
        turned back into references, as the `log_entries` stream emits them."""
        self.noted.update(noted_incident_ids(page))
        for entry in page:
            incident = entry.get("incident")
            if not isinstance(incident, dict) or incident.get("type") != "incident":
                continue
            if self.entries is not None:
                self.entries.append(
                    {
                        "id": entry["id"],
                        "created_at": entry.get("created_at"),
                        "incident_id": incident["id"],
                        "note": is_note(entry),
                        "value_edit": is_value_edit(entry),
                    }
                )
                known = self.incidents.get(incident["id"])
                if known is None or _version(incident) >= _version(known):
                    self.incidents[incident["id"]] = incident
            entry["incident"] = reference_to(incident)


def reference_to(incident: dict[str, t.Any]) -> dict[str, t.Any]:
    """The `incident_reference` PagerDuty gives in a log entry without `include[]`."""
    return {
        "id": incident["id"],
        "type": "incident_reference",
        "summary": incident.get("summary"),
        "self": incident.get("self"),
        "html_url": incident.get("html_url"),
    }


def noted_incident_ids(entries: Records) -> Iterator[str]:
    for entry in entries:
        if is_note(entry) and entry.get("incident"):
            yield entry["incident"]["id"]


class Versions:
    """`updated_at` of incidents emitted recently: an incident is emitted only when its
    version is newer. Old versions are forgotten once every feed has moved past them.

    Versions emitted without reading their notes (a logged change with no note added) are
    marked: a silent-change feed that sees such a version again reads its notes then."""

    def __init__(self, saved: dict[str, str], notes_unread: list[str]) -> None:
        self.latest: dict[str, str] = dict(saved or {})
        self.notes_unread: set[str] = set(notes_unread or ()) & set(self.latest)
        self.cutoff = ""

    def is_newer(self, incident: dict[str, t.Any]) -> bool:
        return _version(incident) > self.latest.get(incident["id"], "")

    def notes_read(self, incident: dict[str, t.Any]) -> bool:
        """Whether this version's notes were read when it was emitted."""
        return incident["id"] not in self.notes_unread

    def wants(self, incident: dict[str, t.Any]) -> bool:
        """Newer, or the same version with its notes not read yet."""
        return self.is_newer(incident) or (
            incident["id"] in self.notes_unread
            and _version(incident) == self.latest[incident["id"]]
        )

    def remember(self, incident: dict[str, t.Any], notes_read: bool) -> None:
        version = _version(incident)
        # Versions older than every feed's position are never asked about again: a backfill
        # keeps no per-incident memory of them (flat memory on large accounts).
        if version < self.cutoff:
            return
        self.latest[incident["id"]] = version
        if notes_read:
            self.notes_unread.discard(incident["id"])
        else:
            self.notes_unread.add(incident["id"])

    def forget_before(self, moment: datetime) -> None:
        self.cutoff = iso_z(moment)
        self.latest = {i: v for i, v in self.latest.items() if v >= self.cutoff}
        self.notes_unread &= set(self.latest)


def _version(incident: dict[str, t.Any]) -> str:
    return str(incident.get("updated_at") or "")


# The log entry types the spec lists for a custom field value edit (which one PagerDuty writes,
# and whether it also moves the incident's `updated_at`, is not documented).
VALUE_EDIT_TYPES = frozenset(
    {"custom_field_value_change_log_entry", "field_value_change_log_entry"}
)


def is_value_edit(entry: dict[str, t.Any]) -> bool:
    """A log entry that records an edit of a custom field value."""
    return entry.get("type") in VALUE_EDIT_TYPES


def is_note(entry: dict[str, t.Any]) -> bool:
    """A log entry that records a note being added."""
    channel = entry.get("channel") or {}
    return entry.get("type") == "annotate_log_entry" and channel.get("type") == "note"


class IncidentAlertsStream(ChildStream):
    """Alerts of every incident the incidents stream emits in this run (new or changed);
    incidents without alerts (`alert_counts.all` is 0) cost no request."""

    name = "incident_alerts"
    path = "/incidents/{incident_id}/alerts"
    parent_stream_type = IncidentsStream
    parent_key = "incident_id"
    records_key = "alerts"
    needs = (CHILD_CHOICES,)

    def wanted(self, parent: dict[str, t.Any]) -> bool:
        choices = self.run.get(CHILD_CHOICES, self)  # None: the incidents stream not started
        if choices is not None and not choices.alerts_needed(parent):
            return False
        counts = parent.get("alert_counts")
        return not isinstance(counts, dict) or counts.get("all") != 0


class IncidentNotesStream(SinglePageChild):
    """Notes of emitted incidents that may have new or edited notes: every incident of the
    backfill, incidents whose log shows a note added, and every incident a silent-change
    feed emits (a note edit writes no log entry)."""

    name = "incident_notes"
    path = "/incidents/{incident_id}/notes"
    parent_stream_type = IncidentsStream
    parent_key = "incident_id"
    records_key = "notes"
    prepares_ahead = False  # which incidents need notes is known only as the run goes
    needs = (CHILD_CHOICES,)

    def wanted(self, parent: dict[str, t.Any]) -> bool:
        choices = self.run.get(CHILD_CHOICES, self)
        return choices is None or choices.notes_needed(parent)  # None: not started, no gating


class LogEntriesStream(WindowedStream):
    """Every log entry (incident events), by creation time. What it read is handed to the
    incidents stream through the run (`CHANGE_LOG`, `CHANGE_LOG_ENTRIES`): which incidents
    have notes, and the changes when the incidents stream follows them in this run."""

    name = "log_entries"
    path = "/log_entries"
    replication_key = "created_at"
    max_window = CHANGE_LOG_WINDOW
    overlap = CHANGE_LOG_OVERLAP
    state_type = OverlapBookmark
    produces = (CHANGE_LOG, CHANGE_LOG_ENTRIES)

    def feeds_incidents(self) -> bool:
        """Whether this run's read also serves the incidents change feed (a stream that
        syncs in this run reads the entries): then it asks for the incidents."""
        return self.run.wanted(CHANGE_LOG_ENTRIES)

    def listing_params(self) -> dict[str, t.Any]:
        return {"include[]": ["incidents"]} if self.feeds_incidents() else {}

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        start, end = self.plan()
        keep_changes = self.feeds_incidents()
        reading = SharedLogRead(start, end, keep_changes=keep_changes)
        self._reading = reading
        yield from super().get_records(context)
        # Complete: the incidents stream may use it.
        self.run.put(CHANGE_LOG, reading, self)
        if keep_changes:
            self.run.put(CHANGE_LOG_ENTRIES, reading, self)

    def on_page(self, page: Records) -> None:
        self._reading.take(page)


class NotificationsStream(WindowedStream):
    """Notifications sent to responders, by `started_at`. PagerDuty needs both bounds and
    a range under 3 months."""

    name = "notifications"
    path = "/notifications"
    replication_key = "started_at"
    max_window = timedelta(days=30)
