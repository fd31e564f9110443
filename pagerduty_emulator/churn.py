"""A living account: entities deleted, merged or created between two requests of a run.

Real accounts change while a sync reads them: people are off-boarded, teams reorganised,
incidents merged. A `Change` happens right after the `after`-th request whose path matches
`path` is answered (its answer is computed first, so the change is seen by every later
request and by none before): driven by requests seen, never by time.

* `delete`: the entity disappears from its listing (later rows move up one place), and any
  request naming it (`/teams/ID`, `/teams/ID/members`, ...) answers 404;
* `create`: the entity is hidden until the change, then appears in its listing (later rows
  move down one place);
* `merge` (incidents only): the incident stays listed, but its children (alerts, notes,
  custom field values, log entries) answer 404, as PagerDuty's for an incident merged away.

Ground truth (`Emulator.truth`) follows: it lists what exists *now*, so a test compares the
tap's output with the truth after the run. Kinds are the path's first segment (`users`,
`teams`, `services`, `schedules`, `incidents`) or `incident_types`.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

KINDS = ("users", "teams", "services", "schedules", "incidents", "incident_types")
ACTIONS = ("delete", "create", "merge")

# Child streams of each kind, with the field naming their parent (for ground truth).
CHILDREN = {
    "user_notification_rules": ("users", "user_id"),
    "user_contact_methods": ("users", "user_id"),
    "team_members": ("teams", "team_id"),
    "service_integrations": ("services", "service_id"),
    "service_custom_field_values": ("services", "service_id"),
    "schedule_overrides": ("schedules", "schedule_id"),
    "schedule_users": ("schedules", "schedule_id"),
    "incident_alerts": ("incidents", "incident_id"),
    "incident_notes": ("incidents", "incident_id"),
    "incident_custom_field_values": ("incidents", "incident_id"),
    "incident_custom_fields": ("incident_types", "incident_type_id"),
}
# Children an incident loses when it is merged into another one.
MERGED_CHILDREN = {"incident_alerts", "incident_notes", "incident_custom_field_values"}
_TYPE_PATH = re.compile(r"^/incidents/types/([^/]+)(?:/.*)?$")
_ENTITY_PATH = re.compile(r"^/(users|teams|services|schedules|incidents)/([^/]+)(/.+)?$")
_FIRST_ID = re.compile(rb'"id":"([^"]+)"')


@dataclass(frozen=True)
class Change:
    """`action` on the entity `kind`/`id`, right after the `after`-th request matching the
    regular expression `path` (the whole path, e.g. `/teams` or `/incidents`)."""

    action: str
    kind: str
    id: str
    path: str
    after: int = 1

    def __post_init__(self) -> None:
        if self.action not in ACTIONS or self.kind not in KINDS:
            raise ValueError(f"unknown churn change {self.action!r} on {self.kind!r}")
        if self.action == "merge" and self.kind != "incidents":
            raise ValueError("only incidents can be merged")


class Churn:
    """The changes of one emulator, applied as requests are answered (thread-safe)."""

    def __init__(self, changes: Iterable[Change | dict] = ()) -> None:
        self.lock = threading.Lock()
        self.pending: list[Change] = []
        self.hidden: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self.merged: set[str] = set()
        self.seen_paths: Counter[str] = Counter()
        self.applied: list[Change] = []
        self.add(changes)

    def add(self, changes: Iterable[Change | dict]) -> None:
        """Schedule more changes (counts of requests already seen still apply)."""
        with self.lock:
            for change in changes:
                if isinstance(change, dict):
                    change = Change(**change)
                if change.action == "create":
                    self.hidden[change.kind].add(change.id)
                self.pending.append(change)

    @property
    def active(self) -> bool:
        return bool(self.pending or self.merged or any(self.hidden.values()))

    def answered(self, path: str) -> None:
        """A request for `path` was answered (its body is computed): apply due changes."""
        if not self.pending:
            return
        with self.lock:
            due = []
            for change in self.pending:
                if re.fullmatch(change.path, path):
                    self.seen_paths[change.path] += 1
            for change in self.pending:
                if self.seen_paths[change.path] >= change.after:
                    due.append(change)
            for change in due:
                self.pending.remove(change)
                self.applied.append(change)
                if change.action == "delete":
                    self.hidden[change.kind].add(change.id)
                elif change.action == "create":
                    self.hidden[change.kind].discard(change.id)
                else:
                    self.merged.add(change.id)

    def gone(self, path: str) -> bool:
        """Whether a request for `path` names an entity that does not exist (404)."""
        if not self.active:
            return False
        typed = _TYPE_PATH.match(path)
        if typed:
            return typed.group(1) in self.hidden["incident_types"]
        named = _ENTITY_PATH.match(path)
        if not named:
            return False
        kind, rid, rest = named.groups()
        if rid in self.hidden[kind]:
            return True
        return kind == "incidents" and bool(rest) and rid in self.merged

    def listing(self, key: str, seq: Sequence, id_of: Callable[[object], str | None]) -> Sequence:
        """`seq` (one listing's rows, in order) without the entities that do not exist."""
        hidden = self.hidden.get(key)
        if not hidden:
            return seq
        return [row for row in seq if id_of(row) not in hidden]

    def truth(self, stream: str, records: list[dict]) -> list[dict]:
        """Ground truth without what does not exist (and without merged incidents' children)."""
        if not self.active:
            return records
        if stream in self.hidden:
            return [r for r in records if r.get("id") not in self.hidden[stream]]
        parent = CHILDREN.get(stream)
        if parent is None:
            return records
        kind, field = parent
        gone = set(self.hidden[kind])
        if stream in MERGED_CHILDREN:
            gone |= self.merged
        return [r for r in records if r.get(field) not in gone]


def first_id(row: object) -> str | None:
    """The `id` of a rendered row (rendered objects start with their own id)."""
    if isinstance(row, bytes):
        found = _FIRST_ID.search(row)
        return found.group(1).decode() if found else None
    return None
