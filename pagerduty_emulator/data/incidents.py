"""Incidents: how each is created and lives (escalations, acknowledgements, notes, resolution),
their log entries and notifications, and what changes when the clock moves."""

from __future__ import annotations

import bisect
import random
from typing import Any

from .base import (
    DAY,
    HOUR,
    NOTE_TEXTS,
    SILENT_KINDS,
    SYMPTOMS,
    Inc,
    Note,
    WorldBase,
)


class IncidentData(WorldBase):
    """A part of `World` (see the module's docstring)."""

    def _new_incident(self, t0: int, rng: random.Random) -> Inc:
        inc = Inc()
        inc.idx = len(self.incidents)
        inc.number = inc.idx + 1
        inc.id = self.ids.next()
        svc = rng.randrange(len(self.services))
        inc.service = svc
        inc.ep = self.services[svc]["ep"]
        inc.created = inc.updated = inc.last_change = t0
        inc.title = inc.title0 = f"{self.services[svc]['name']}: {rng.choice(SYMPTOMS)}"
        inc.changes = []
        inc.key = f"{rng.getrandbits(128):032x}"
        inc.status = "triggered"
        inc.urgency = "high" if rng.random() < 0.7 else "low"
        r = rng.random()
        inc.priority = None if r < 0.35 else min(4, int((r - 0.35) / 0.13))
        inc.assignees = []
        inc.acks = []
        inc.notes = []
        inc.resolved = None
        inc.resolved_by = None
        inc.last_by = -1
        inc.level = 0
        inc.first_ack = None
        inc.ack_count = inc.assign_count = inc.reassign_count = inc.escalations = 0
        inc.notified = 0
        inc.major = inc.priority is not None and inc.priority <= 1
        inc.bridge = rng.random() < 0.15
        n_alerts = 1 if rng.random() < 0.7 else rng.randint(2, 4)
        inc.alert_ids = [self.ids.next() for _ in range(n_alerts)]
        inc.first_le = None
        self.incidents.append(inc)
        self.inc_created.append(t0)
        self.inc_by_id[inc.id] = inc
        self.open.add(inc.idx)
        self.svc_last[svc] = max(self.svc_last.get(svc, 0), t0)
        return inc

    def _timeline(self, inc: Inc, rng: random.Random) -> list[tuple]:
        """Planned events (ts, kind, arg) after the trigger; may extend beyond now."""
        t0 = inc.created
        ev: list[tuple[int, str, Any]] = []
        stuck = rng.random() < 0.03
        ack_at = t0 + int(rng.expovariate(1 / 600)) + 30 if rng.random() < 0.85 else None
        esc_delay = self.eps[inc.ep]["rules"][0]["delay"] * 60
        if (ack_at is None or ack_at > t0 + esc_delay) and len(self.eps[inc.ep]["rules"]) > 1:
            ev.append((t0 + esc_delay, "escalate", None))
        if ack_at is not None:
            ev.append((ack_at, "ack", None))
        base = ack_at or t0
        if stuck:
            res_at = t0 + rng.randint(20, 120) * DAY
        else:
            res_at = base + int(rng.expovariate(1 / 5400)) + 60
        if rng.random() < 0.1:
            ev.append(
                (
                    t0 + rng.randint(60, max(61, res_at - t0 - 1)),
                    "reassign",
                    rng.randrange(self.n_users),
                )
            )
        if rng.random() < 0.18:
            note_at = t0 + rng.randint(60, max(61, res_at - t0 - 1))
            ev.append((note_at, "note", rng.choice(NOTE_TEXTS)))
            if rng.random() < 0.3 and res_at - note_at > 120:
                ev.append((note_at + rng.randint(30, res_at - note_at - 60), "note_edit", 0))
        if rng.random() < 0.08:
            ev.append(
                (
                    t0 + rng.randint(30, max(31, res_at - t0 - 1)),
                    "priority",
                    rng.choice([0, 1, 2, 3, 4, None]),
                )
            )
        ev.append((res_at, "resolve", "auto" if rng.random() < 0.1 else None))
        ev.sort(key=lambda e: e[0])
        return ev

    def _spawn(self, times: list[int], horizon: int, rng: random.Random, logs, notifs) -> None:
        """Create incidents at ``times`` (sorted) and apply their events up to ``horizon``."""
        for t0 in times:
            inc = self._new_incident(t0, rng)
            self._apply(inc, t0, "trigger", None, rng, logs, notifs)
            for ts, kind, arg in self._timeline(inc, rng):
                if ts >= horizon or inc.status == "resolved":
                    break
                self._apply(inc, ts, kind, arg, rng, logs, notifs)

    def _commit(self, logs: list[tuple], notifs: list[tuple]) -> None:
        logs.sort(key=lambda e: (e[0], e[1]))
        notifs.sort(key=lambda e: (e[0], e[1]))
        self.log.extend(logs)
        self.log_ts.extend(e[0] for e in logs)
        self.notifs.extend(notifs)
        self.notif_ts.extend(e[0] for e in notifs)

    def _notify(self, inc: Inc, ts: int, user: int, rng, logs, notifs) -> None:
        u = self.users[user]
        rules = [r for r in u["rules"] if r["urgency"] == inc.urgency and r["delay"] == 0]
        for r in rules:
            nts = ts
            status = "success" if rng.random() < 0.95 else "failed"
            notifs.append((nts, self.ids.next(), user, r["cm"], status))
            logs.append((nts, self.ids.next(), inc.idx, "notify", -1, (user, r["cm"])))
            inc.notified += 1

    def _apply(self, inc: Inc, ts: int, kind: str, arg, rng, logs, notifs) -> None:
        """One event of an incident's life: its state changes, its log entries and
        notifications are added to `logs` and `notifs`."""
        nid = self.ids.next
        if kind == "trigger":
            self._trigger(inc, ts, rng, logs, notifs)
        elif kind == "escalate":
            self._escalate(inc, ts, rng, logs, notifs)
        elif kind == "reassign":
            self._reassign(inc, ts, arg, rng, logs, notifs)
        elif kind == "ack":
            user = inc.assignees[0][0] if inc.assignees else 0
            inc.status = "acknowledged"
            inc.acks = [(user, ts)]
            inc.ack_count += 1
            if inc.first_ack is None:
                inc.first_ack = ts
            inc.last_change = ts
            inc.last_by = user
            logs.append((ts, nid(), inc.idx, "acknowledge", user, None))
        elif kind == "note":
            user = inc.assignees[0][0] if inc.assignees else rng.randrange(self.n_users)
            inc.notes.append(Note(nid(), user, arg, ts, ts))
            logs.append((ts, nid(), inc.idx, "annotate", user, ("note", arg)))
        elif kind == "note_edit" and inc.notes:
            note = inc.notes[arg % len(inc.notes)]
            note.content = note.content + " (edited)"
            note.updated = ts
        elif kind == "priority":  # silent: PagerDuty writes no log entry for it
            inc.priority = arg
            inc.major = inc.major or (arg is not None and arg <= 1)
        elif kind == "title":  # silent
            inc.title = f"{inc.title0} ({arg})"
        elif kind == "urgency":
            user = inc.assignees[0][0] if inc.assignees else 0
            inc.urgency = arg
            logs.append((ts, nid(), inc.idx, "urgency_change", user, arg))
        elif kind == "resolve":
            self._resolve(inc, ts, arg, logs)
        inc.updated = ts
        inc.changes.append(ts)
        inc.cache = None
        inc.acache = None
        inc.rcache = None

    def _trigger(self, inc: Inc, ts: int, rng: random.Random, logs: list, notifs: list) -> None:
        nid = self.ids.next
        user = self.level_user(inc.ep, 0, ts)
        le = nid()
        inc.first_le = le
        inc.trig = rng.choice(["api", "email", "web_trigger"])
        if inc.trig == "web_trigger":  # created by hand in the web app: no alert behind it
            inc.alert_ids = []
        logs.append((ts, le, inc.idx, "trigger", -2, inc.trig))
        inc.assignees = [(user, ts)]
        inc.assign_count += 1
        logs.append((ts, nid(), inc.idx, "assign", -1, user))
        self._notify(inc, ts, user, rng, logs, notifs)
        inc.last_by = -1

    def _escalate(self, inc: Inc, ts: int, rng: random.Random, logs: list, notifs: list) -> None:
        nid = self.ids.next
        inc.level += 1
        user = self.level_user(inc.ep, inc.level, ts)
        inc.assignees = [(user, ts)]
        inc.escalations += 1
        inc.assign_count += 1
        if inc.status == "acknowledged":
            inc.status = "triggered"
            inc.acks = []
            inc.last_change = ts
            inc.last_by = -1
        logs.append((ts, nid(), inc.idx, "escalate", -1, user))
        self._notify(inc, ts, user, rng, logs, notifs)

    def _reassign(
        self, inc: Inc, ts: int, user: int, rng: random.Random, logs: list, notifs: list
    ) -> None:
        nid = self.ids.next
        by = inc.assignees[0][0] if inc.assignees else 0
        inc.assignees = [(user, ts)]
        inc.reassign_count += 1
        inc.assign_count += 1
        logs.append((ts, nid(), inc.idx, "assign", by, user))
        self._notify(inc, ts, user, rng, logs, notifs)

    def _resolve(self, inc: Inc, ts: int, arg: str | None, logs: list) -> None:
        nid = self.ids.next
        user = inc.assignees[0][0] if inc.assignees else 0
        inc.status = "resolved"
        inc.resolved = ts
        inc.resolved_by = None if arg == "auto" else user
        inc.last_by = -1 if arg == "auto" else user
        inc.last_change = ts
        inc.assignees = []
        inc.acks = []
        self.open.discard(inc.idx)
        logs.append((ts, nid(), inc.idx, "resolve", inc.last_by, arg or "web_ui"))

    def advance(self, hours: float) -> None:
        """Move the clock `hours` ahead: open incidents change, new ones are created, audit
        records and change events are written (one seeded draw order per start time)."""
        old = self.now
        new = old + int(hours * HOUR)
        if new <= old:
            return
        rng = random.Random(self.seed * 1_000_003 + old)
        # 1. changes to existing open incidents (some created weeks ago)
        logs: list[tuple] = []
        notifs: list[tuple] = []
        span = new - old
        events = self._planned_changes(old, span, hours, rng)
        silent = self._silent_events(old, span, rng)
        self._apply_changes(
            sorted([*events, *silent], key=lambda e: (e[0], e[1])), rng, logs, notifs
        )
        # 2. new incidents created within (old, new]
        expected = self.base_rate * hours / 24
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        count = max(count, 1)
        times = sorted(old + 1 + rng.randrange(span) for _ in range(count))
        self._spawn(times, new, rng, logs, notifs)
        self._commit(logs, notifs)
        # 3. audit records and change events
        self._build_audit(old, new, rng)
        self._build_change_events(old, new, rng)
        self.now = new
        self.version += 1

    def _planned_changes(
        self, old: int, span: int, hours: float, rng: random.Random
    ) -> list[tuple[int, int, str, Any]]:
        """(time, incident index, kind, argument) of the changes to open incidents."""
        events = []
        open_ids = sorted(self.open)
        frac = min(0.9, 0.25 + 0.25 * hours / 24)
        chosen = [i for i in open_ids if rng.random() < frac]
        old_open = [i for i in open_ids if self.incidents[i].created < old - 7 * DAY]
        for i in old_open[: min(3, len(old_open))]:
            if i not in chosen:
                chosen.append(i)
        for i in chosen:
            inc = self.incidents[i]
            n = 1 if rng.random() < 0.7 else 2
            status = inc.status
            for _ in range(n):
                ts = old + 1 + rng.randrange(span)
                r = rng.random()
                if status == "resolved":
                    break
                kind = _next_change(status, r)
                if kind == "ack":
                    status = "acknowledged"
                elif kind == "resolve":
                    status = "resolved"
                arg = {  # every draw is made, whatever the kind: the draw order stays fixed
                    "reassign": rng.randrange(self.n_users),
                    "priority": rng.choice([0, 1, 2, 3, None]),
                    "urgency": "low" if inc.urgency == "high" else "high",
                    "note": rng.choice(NOTE_TEXTS),
                }.get(kind)
                events.append((ts, i, kind, arg))
            if inc.notes and rng.random() < 0.4:
                events.append((old + 1 + rng.randrange(span), i, "note_edit", rng.randrange(100)))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def _apply_changes(
        self, events: list[tuple], rng: random.Random, logs: list, notifs: list
    ) -> None:
        """Apply planned changes in time order; a change to an incident resolved meanwhile is
        dropped, an escalation past the last level becomes a reassignment."""
        for ts, i, kind, arg in events:
            inc = self.incidents[i]
            if kind in SILENT_KINDS:
                self._apply(inc, ts, kind, arg, rng, logs, notifs)
                continue
            if inc.status == "resolved" or (
                kind == "escalate" and inc.level + 1 >= len(self.eps[inc.ep]["rules"])
            ):
                if kind == "escalate" and inc.status != "resolved":
                    self._apply(inc, ts, "reassign", rng.randrange(self.n_users), rng, logs, notifs)
                continue
            self._apply(inc, ts, kind, arg, rng, logs, notifs)

    def _silent_events(self, old: int, span: int, rng: random.Random) -> list[tuple]:
        """`silent_changes` changes that write no log entry, on random incidents (open or
        resolved, old or new): a priority change, a title edit or a note edit."""
        if not self.incidents:
            return []
        events = []
        for _ in range(self.silent_changes):
            i = rng.randrange(len(self.incidents))
            kind = rng.choice(["priority", "title", "note_edit"])
            if kind == "note_edit" and not self.incidents[i].notes:
                kind = "title"
            arg = {
                "priority": rng.choice([0, 1, 2, 3, 4, None]),
                "title": f"edited {rng.randrange(10_000)}",
                "note_edit": rng.randrange(100),
            }[kind]
            events.append((old + 1 + rng.randrange(span), i, kind, arg))
        return events

    def analytics_updated(self, inc: Inc) -> int | None:
        """The `updated_at` the analytics API shows: changes reach it `analytics_lag` late;
        None while the incident itself has not reached it."""
        if not self.analytics_lag:
            return inc.updated
        visible = self.now - self.analytics_lag
        if inc.created > visible:
            return None
        k = bisect.bisect_right(inc.changes, visible)
        return inc.changes[k - 1] if k else inc.created

    def inc_range(self, since: int | None, until: int | None) -> range:
        lo = 0 if since is None else bisect.bisect_left(self.inc_created, since)
        hi = len(self.inc_created) if until is None else bisect.bisect_left(self.inc_created, until)
        return range(lo, max(lo, hi))


def _next_change(status: str, draw: float) -> str:
    """What happens next to an open incident, for a uniform `draw` in [0, 1)."""
    if status == "triggered":
        steps = [(0.4, "ack"), (0.55, "escalate"), (0.65, "reassign"), (0.75, "priority")]
        steps += [(0.8, "urgency")]
        last = "resolve"
    else:
        steps = [(0.45, "resolve"), (0.6, "reassign"), (0.7, "escalate"), (0.85, "priority")]
        last = "note"
    return next((kind for bound, kind in steps if draw < bound), last)
