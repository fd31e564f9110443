"""Tests for the PagerDuty REST API v2 emulator in pagerduty_emulator."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from pagerduty_emulator.stats import Stats
from tests.support.tap_runs import as_written

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
ACCEPT = "application/vnd.pagerduty+json;version=2"
MAX_PAGES = 2000
Params = dict[str, str | int]  # query parameters, as requests takes them


def z(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def session(token: str = "emulator-token") -> requests.Session:
    s = requests.Session()
    s.headers.update({"Authorization": f"Token token={token}", "Accept": ACCEPT})
    return s


def page_all(s: requests.Session, url: str, key: str, params: dict | None = None) -> list[dict]:
    params = dict(params or {})
    params.setdefault("limit", 100)
    out: list[dict] = []
    offset = 0
    for _ in range(MAX_PAGES):
        r = s.get(url, params={**params, "offset": offset})
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body[key])
        offset += len(body[key])
        if not body["more"]:
            return out
    raise AssertionError("paging did not finish")


# ------------------------------------------------------------------------------------------------
# paging and truth
# ------------------------------------------------------------------------------------------------
def test_users_paging_equals_truth(emulator):
    s = session()
    got = page_all(
        s,
        emulator.url + "/users",
        "users",
        {"limit": 7, "include[]": ["contact_methods", "notification_rules"]},
    )
    assert got == emulator.truth("users")
    assert len(got) == 40
    names = " ".join(u["name"] for u in got)
    assert any(ch in names for ch in "øöüéåç")
    user = got[0]
    assert user["contact_methods"][0]["address"]
    assert {r["urgency"] for u in got for r in u["notification_rules"]} == {"high", "low"}
    # without include: references only
    plain = s.get(emulator.url + "/users", params={"limit": 1}).json()["users"][0]
    assert plain["contact_methods"][0]["type"].endswith("_reference")
    # notification_rules endpoint defaults to urgency=high
    uid = user["id"]
    high = s.get(f"{emulator.url}/users/{uid}/notification_rules").json()["notification_rules"]
    every = s.get(f"{emulator.url}/users/{uid}/notification_rules", params={"urgency": "all"})
    assert {r["urgency"] for r in high} == {"high"}
    assert {r["urgency"] for r in every.json()["notification_rules"]} == {"high", "low"}


def test_incidents_paging_equals_truth(emulator):
    s = session()
    got = []
    start = NOW - timedelta(days=130)
    while start < NOW:
        end = min(start + timedelta(days=60), NOW)
        got += page_all(
            s, emulator.url + "/incidents", "incidents", {"since": z(start), "until": z(end)}
        )
        start = end
    truth = emulator.truth("incidents")
    assert got == truth
    assert len(truth) == 300
    statuses = {i["status"] for i in truth}
    assert statuses == {"triggered", "acknowledged", "resolved"} or "resolved" in statuses
    assert any(i["resolved_at"] is None for i in truth)
    assert any(i["priority"] is None for i in truth) and any(i["priority"] for i in truth)
    for inc in truth[:20]:
        assert inc["id"].startswith("P") and len(inc["id"]) == 7
        assert inc["created_at"].endswith("Z") and len(inc["created_at"]) == 20
        assert inc["type"] == "incident"
        assert inc["service"]["type"] == "service_reference"


def test_other_streams_match_truth(emulator):
    s = session()
    u = emulator.url
    assert page_all(s, u + "/services", "services", {"include[]": "integrations"}) == (
        emulator.truth("services")
    )
    assert page_all(s, u + "/schedules", "schedules", {"include[]": "schedule_layers"}) == (
        emulator.truth("schedules")
    )
    orch = page_all(s, u + "/event_orchestrations", "orchestrations")
    assert orch == emulator.truth("event_orchestrations")
    since, until = z(NOW - timedelta(days=30)), z(NOW)
    le = page_all(s, u + "/log_entries", "log_entries", {"since": since, "until": until})
    assert le == emulator.truth("log_entries", since=since, until=until)
    assert [(e["created_at"], e["id"]) for e in le] == sorted(
        (e["created_at"], e["id"]) for e in le
    )
    notes = s.get(u + "/notifications", params={"since": since, "until": until, "total": "true"})
    assert notes.json()["total"] == len(emulator.truth("notifications", since=since, until=until))
    emails = page_all(
        s,
        u + "/notifications",
        "notifications",
        {"since": since, "until": until, "filter": "email_notification"},
    )
    truth = emulator.truth("notifications", since=since, until=until)
    assert emails == [n for n in truth if n["type"] == "email_notification"] and emails
    abil = s.get(u + "/abilities").json()
    assert [{"name": a} for a in abil["abilities"]] == emulator.truth("abilities")
    dash = s.get(u + "/status_dashboards").json()
    assert dash["next_cursor"] is None and dash["status_dashboards"]
    with_inc = s.get(
        u + "/log_entries", params={"since": since, "until": until, "include[]": "incidents"}
    ).json()["log_entries"][0]
    assert with_inc["incident"]["type"] == "incident" and "status" in with_inc["incident"]
    member = s.get(f"{u}/teams/{emulator.truth('teams')[0]['id']}/members").json()
    assert member["members"][0]["role"] in {"manager", "responder", "observer"}


def test_default_limit_max_limit_and_total(emulator):
    s = session()
    r = s.get(emulator.url + "/incidents", params={"date_range": "all"}).json()
    assert r["limit"] == 25 and r["offset"] == 0 and len(r["incidents"]) == 25
    assert r["more"] is True and r["total"] is None
    over_max: Params = {"date_range": "all", "limit": 500}
    r = s.get(emulator.url + "/incidents", params=over_max).json()
    assert r["limit"] == 100 and len(r["incidents"]) == 100
    r = s.get(emulator.url + "/incidents", params={"date_range": "all", "total": "true"}).json()
    assert r["total"] == 300
    r = s.get(emulator.url + "/incidents", params={"date_range": "all", "total": "True"}).json()
    assert r["total"] is None


@pytest.mark.parametrize("extra", [{}, {"date_range": "all"}])
def test_offset_limit_cap(emulator, extra):
    s = session()
    r = s.get(emulator.url + "/incidents", params={**extra, "offset": 9950, "limit": 100})
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": "Arguments Caused Error",
            "code": 2002,
            "errors": [
                "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your "
                "search to reduce the returned set of records below this number, like adding a "
                "date range."
            ],
        }
    }
    ok = s.get(emulator.url + "/incidents", params={**extra, "offset": 9900, "limit": 100})
    assert ok.status_code == 200 and ok.json()["incidents"] == []


def test_range_limits(emulator):
    s = session()
    u = emulator.url
    r = s.get(u + "/incidents", params={"since": "2026-01-01T00:00:00Z", "until": z(NOW)})
    assert r.status_code == 400 and r.json()["error"]["errors"][0]
    r = s.get(u + "/incidents", params={"since": z(NOW - timedelta(days=183)), "until": z(NOW)})
    assert r.status_code == 200
    # notifications: both bounds required, range < 3 months
    assert s.get(u + "/notifications", params={"since": z(NOW)}).status_code == 400
    assert s.get(u + "/notifications").status_code == 400
    r = s.get(u + "/notifications", params={"since": z(NOW - timedelta(days=92)), "until": z(NOW)})
    assert r.status_code == 400
    r = s.get(u + "/notifications", params={"since": z(NOW - timedelta(days=91)), "until": z(NOW)})
    assert r.status_code == 200
    # oncalls: until at most 90 days ahead, not before since
    far = {"since": z(NOW), "until": z(NOW + timedelta(days=91))}
    assert s.get(u + "/oncalls", params=far).status_code == 400
    back = {"since": z(NOW), "until": z(NOW - timedelta(days=1))}
    assert s.get(u + "/oncalls", params=back).status_code == 400
    ok = {"since": z(NOW), "until": z(NOW + timedelta(days=14))}
    got = page_all(s, u + "/oncalls", "oncalls", ok)
    assert got == emulator.truth("oncalls", since=ok["since"], until=ok["until"])
    assert any(o["start"] is None for o in got) and any(o["schedule"] for o in got)
    # audit: at most 31 days
    r = s.get(u + "/audit/records", params={"since": z(NOW - timedelta(days=32)), "until": z(NOW)})
    assert r.status_code == 400
    # change events need Z
    r = s.get(u + "/change_events", params={"since": "2026-10-01T00:00:00+00:00"})
    assert r.status_code == 400
    r = s.get(u + "/change_events", params={"since": "2026-10-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["change_events"]
    # unparseable time
    r = s.get(u + "/log_entries", params={"since": "yesterday"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 2004


def test_audit_cursor_paging(emulator):
    s = session()
    since, until = z(NOW - timedelta(days=30)), z(NOW)
    got, cursor = [], None
    for _ in range(MAX_PAGES):
        params: Params = {"since": since, "until": until, "limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = s.get(emulator.url + "/audit/records", params=params).json()
        got += body["records"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert got == emulator.truth("audit_records", since=since, until=until)
    assert len(got) > 50
    times = [r["execution_time"] for r in got]
    assert times == sorted(times, reverse=True)
    default = s.get(emulator.url + "/audit/records").json()
    assert default["limit"] == 100 and len(default["records"]) >= 1


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_analytics_starting_after_paging(emulator, order):
    s = session()
    filters = {"created_at_start": z(NOW - timedelta(days=60)), "created_at_end": z(NOW)}
    got, after = [], None
    for _ in range(MAX_PAGES):
        body = {"filters": filters, "limit": 17, "order": order}
        if after:
            body["starting_after"] = after
        r = s.post(emulator.url + "/analytics/raw/incidents", json=body).json()
        got += r["data"]
        after = r["last"]
        if not r["more"]:
            break
    truth = emulator.truth("analytics_incidents", since=filters["created_at_start"], until=z(NOW))
    if order == "desc":
        truth = truth[::-1]
    assert got == truth and len(got) > 17
    assert (
        s.post(emulator.url + "/analytics/raw/incidents", json={"limit": 5000}).status_code == 400
    )


def test_since_without_zone_uses_account_zone(emulator):
    s = session()
    naive = s.get(
        emulator.url + "/incidents",
        params={"since": "2026-10-01T00:00:00", "until": "2026-10-15T00:00:00", "total": "true"},
    ).json()
    # America/Los_Angeles is UTC-7 in October 2026
    utc = s.get(
        emulator.url + "/incidents",
        params={"since": "2026-10-01T07:00:00Z", "until": "2026-10-15T07:00:00Z", "total": "true"},
    ).json()
    assert naive["incidents"] == utc["incidents"]
    assert emulator.stats()["missing_z"] == 2


# ------------------------------------------------------------------------------------------------
# auth, rate limits, writes
# ------------------------------------------------------------------------------------------------
def test_auth_errors(emulator):
    u = emulator.url + "/users"
    r = requests.get(u, headers={"Authorization": "Token token=wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == 2006
    r = requests.get(u)
    assert r.status_code == 401 and r.json()["error"]["code"] == 2006
    r = requests.get(u, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    with pytest.raises(ValueError):
        r.json()
    r = requests.get(u, headers={"Authorization": "Bearer emulator-token"})
    assert r.status_code == 200
    assert emulator.stats()["missing_accept"] == 4


def test_rate_limit(emulator_factory):
    emu = emulator_factory(incidents=20, days=10, now="2026-11-01T00:00:00Z", rate_limit=5)
    s = session()
    codes = []
    for _ in range(6):
        r = s.get(emu.url + "/priorities")
        codes.append(r.status_code)
        assert r.headers["ratelimit-limit"] == "5"
    assert codes == [200] * 5 + [429]
    assert r.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    assert r.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(r.headers["ratelimit-reset"]) <= 60
    assert r.headers["Content-Type"] == "application/json"
    # another token has its own window
    emu.configure(tokens=("emulator-token", "other"))
    assert session("other").get(emu.url + "/priorities").status_code == 200


def test_rate_limit_stats_are_per_token(emulator_factory):
    emu = emulator_factory(
        incidents=20, days=10, now="2026-11-01T00:00:00Z", rate_limit=4, tokens=("a", "b")
    )
    for _ in range(5):
        session("a").get(emu.url + "/priorities")
    for _ in range(2):
        session("b").get(emu.url + "/priorities")
    session("wrong").get(emu.url + "/priorities")  # 401: not a token's budget
    by_token = emu.stats()["by_token"]
    assert set(by_token) == {"a", "b"}
    # Peaks per second depend on how fast this machine sends (a loaded one may spread four
    # requests over more than a second); per minute they do not.
    a_peak = by_token["a"].pop("peak_per_second")
    assert by_token["a"] == {"requests": 4, "rate_limited": 1, "peak_per_minute": 4}
    assert 1 <= a_peak <= 4
    assert by_token["b"]["requests"] == 2 and by_token["b"]["rate_limited"] == 0
    assert by_token["b"]["peak_per_minute"] == 2 and 1 <= by_token["b"]["peak_per_second"] <= 2


def test_writes_are_rejected(emulator):
    s = session()
    assert s.put(emulator.url + "/incidents/PABCDEF", json={}).status_code == 405
    assert s.post(emulator.url + "/incidents", json={}).status_code == 405
    assert s.delete(emulator.url + "/users/PABCDEF").status_code == 405
    assert emulator.stats()["write_attempts"] == 3


def test_headers_and_date(emulator):
    r = session().get(emulator.url + "/abilities")
    assert r.headers["Date"] == "Sun, 01 Nov 2026 00:00:00 GMT"
    assert r.headers["Content-Type"] == "application/json"
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(r.headers)
    emulator.advance(2)
    r = session().get(emulator.url + "/abilities")
    assert r.headers["Date"] == "Sun, 01 Nov 2026 02:00:00 GMT"


# ------------------------------------------------------------------------------------------------
# faults
# ------------------------------------------------------------------------------------------------
def test_fault_5xx(emulator):
    emulator.configure(fault_5xx=1.0)
    codes = {session().get(emulator.url + "/priorities").status_code for _ in range(12)}
    assert codes <= {500, 502, 503} and codes
    emulator.configure(fault_5xx=0.0)
    assert session().get(emulator.url + "/priorities").status_code == 200
    assert sum(v for k, v in emulator.stats()["faults"].items() if k.startswith("5")) == 12


def test_fault_429_every(emulator):
    emulator.configure(fault_429_every=2)
    s = session()
    rs = [s.get(emulator.url + "/priorities") for _ in range(4)]
    assert [r.status_code for r in rs] == [200, 429, 200, 429]
    with_headers, bare = rs[1], rs[3]
    assert (
        "ratelimit-reset" in with_headers.headers and with_headers.json()["error"]["code"] == 2020
    )
    assert "ratelimit-reset" not in bare.headers and bare.content == b""
    assert emulator.stats()["faults"] == {"429_headers": 1, "429_bare": 1}


def test_fault_drop(emulator):
    emulator.configure(fault_drop=1.0)
    with pytest.raises(requests.ConnectionError):
        session().get(emulator.url + "/priorities")
    emulator.configure(fault_drop=0.0)
    assert session().get(emulator.url + "/priorities").status_code == 200
    assert emulator.stats()["faults"]["drop"] == 1


def test_fault_truncate(emulator):
    emulator.configure(fault_truncate=1.0)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, json.JSONDecodeError)):
        session().get(emulator.url + "/incidents", params={"date_range": "all"}).json()
    assert emulator.stats()["faults"]["truncate"] == 1


def test_fault_latency_and_concurrency_stats(emulator):
    """Six requests released together while each is held for LATENCY: they overlap at the
    emulator. Clock readings are only lower bounds (a sleep never ends early), so the test
    holds on a loaded machine."""
    latency = 0.6
    emulator.configure(latency_ms=latency * 1000)
    emulator.reset_stats()
    together = threading.Barrier(6)
    round_trips: list[tuple[int, float]] = []

    def worker() -> None:
        together.wait(30)
        t0 = time.monotonic()
        status = session().get(emulator.url + "/priorities").status_code
        round_trips.append((status, time.monotonic() - t0))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [status for status, _ in round_trips] == [200] * 6
    assert all(took >= latency for _, took in round_trips), round_trips
    # A request is counted when its handler returns, just after the client got the reply.
    st = wait_for_stats(emulator, lambda st: st["in_flight"] == 0, log=True)
    # Held at once, not one after another: the server did not serialise them. Requests in
    # flight together all arrived within one LATENCY of each other, so within one second.
    assert st["peak_in_flight"] >= 4
    assert st["peak_per_second"] >= st["peak_in_flight"]
    assert st["requests"] == 6 and st["by_path"]["/priorities"]["200"] == 6
    assert len(st["log"]) == 6 and st["log"][0][1] == "GET"
    # admin API over HTTP
    stats = requests.get(emulator.url + "/_admin/stats").json()
    assert stats["requests"] == 6 and "log" not in stats
    requests.post(emulator.url + "/_admin/reset_stats")
    assert requests.get(emulator.url + "/_admin/stats").json()["requests"] == 0
    # The latency set over HTTP applies to the next request: at least that long.
    requests.post(emulator.url + "/_admin/config", json={"latency_ms": 400})
    t0 = time.monotonic()
    assert session().get(emulator.url + "/priorities").status_code == 200
    assert time.monotonic() - t0 >= 0.4
    requests.post(emulator.url + "/_admin/config", json={"latency_ms": 0})


def wait_for_stats(emulator, done, log: bool = False, hang_seconds: float = 30) -> dict:
    """The emulator's stats once `done(stats)` holds (the bound only catches a hang)."""
    deadline = time.monotonic() + hang_seconds
    while True:
        st = emulator.stats(log=log)
        if done(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.01)


# ------------------------------------------------------------------------------------------------
# time moves: advance
# ------------------------------------------------------------------------------------------------
def test_silent_changes_write_no_log_entry_and_reach_analytics_late(emulator_factory):
    emu = emulator_factory(seed=5, incidents=200, days=60, now=z(NOW), silent_changes=40)
    emu.configure(analytics_lag_hours=24)
    before = {i["id"]: i for i in emu.truth("incidents")}
    log_before = len(emu.truth("log_entries"))
    emu.advance(2)
    after = {i["id"]: i for i in emu.truth("incidents") if i["id"] in before}
    changed = {i for i in before if after[i]["updated_at"] != before[i]["updated_at"]}
    logged = {e["incident"]["id"] for e in emu.truth("log_entries")[log_before:]}
    silent = changed - logged
    assert silent, "some changes must write no log entry"
    assert any(after[i]["status"] == "resolved" for i in silent)
    assert any(
        after[i]["title"] != before[i]["title"] or after[i]["priority"] != before[i]["priority"]
        for i in silent
    )
    # With a 24 h lag the analytics API does not list them yet; with no lag it does.
    body = {"filters": {"updated_after": z(NOW)}, "limit": 1000}
    url = emu.url + "/analytics/raw/incidents"
    lagged = session().post(url, json=body).json()["data"]
    assert not {r["id"] for r in lagged} & silent
    emu.configure(analytics_lag_hours=0)
    fresh = session().post(url, json=body).json()["data"]
    assert silent <= {r["id"] for r in fresh}


def test_advance_changes_old_incidents_and_adds_new(emulator):
    before = {i["id"]: i for i in emulator.truth("incidents")}
    old_open = [
        i
        for i in before.values()
        if i["status"] != "resolved" and i["created_at"] < z(NOW - timedelta(days=7))
    ]
    assert old_open, "the data set must contain weeks-old open incidents"
    r = requests.post(emulator.url + "/_admin/advance", params={"hours": 24})
    assert r.json() == {"now": "2026-11-02T00:00:00Z"}
    after = {i["id"]: i for i in emulator.truth("incidents")}
    new_ids = set(after) - set(before)
    assert new_ids
    for iid in new_ids:
        assert after[iid]["created_at"] >= z(NOW)
    changed = [i for i in old_open if after[i["id"]] != i]
    assert changed
    for inc in changed:
        now_inc = after[inc["id"]]
        assert z(NOW) < now_inc["updated_at"] <= "2026-11-02T00:00:00Z"
    status_changed = [i for i in old_open if after[i["id"]]["status"] != i["status"]]
    # log entries exist for every change inside the advanced period, except the silent ones
    # (priority, title, note edit), which PagerDuty does not log
    period = emulator.truth("log_entries", since=z(NOW), until="2026-11-02T00:00:01Z")
    touched = {e["incident"]["id"] for e in period}
    logged_fields = ("status", "assignments", "urgency", "escalation_policy")
    logged = [i for i in changed if any(after[i["id"]][f] != i[f] for f in logged_fields)]
    for inc in logged:
        assert inc["id"] in touched
    for inc in status_changed:
        assert after[inc["id"]]["last_status_change_at"] > z(NOW)
    # the HTTP API agrees with truth and the Date header moved
    s = session()
    since_now: Params = {"since": z(NOW), "limit": 100}
    r = s.get(emulator.url + "/incidents", params=since_now)
    assert {i["id"] for i in r.json()["incidents"]} == new_ids
    assert r.headers["Date"] == "Mon, 02 Nov 2026 00:00:00 GMT"
    # several advances: at least one weeks-old incident changes status
    for _ in range(5):
        emulator.advance(24)
    final = {i["id"]: i for i in emulator.truth("incidents")}
    assert any(final[i["id"]]["status"] != i["status"] for i in old_open)
    assert emulator.truth("analytics_incidents")[-1]["updated_at"] > z(NOW)


def test_admin_truth_http_and_unknown_stream(emulator):
    r = requests.get(emulator.url + "/_admin/truth/teams")
    assert r.status_code == 200 and r.json()["records"] == emulator.truth("teams")
    assert requests.get(emulator.url + "/_admin/truth/nope").status_code == 404
    for stream in [
        "user_contact_methods",
        "user_notification_rules",
        "team_members",
        "service_integrations",
        "incident_alerts",
        "incident_notes",
        "maintenance_windows",
        "change_events",
        "extensions",
        "addons",
        "incident_workflows",
        "webhook_subscriptions",
        "status_dashboards",
        "rulesets",
        "priorities",
        "tags",
        "business_services",
        "vendors",
        "escalation_policies",
    ]:
        assert emulator.truth(stream), stream
    notes = emulator.truth("incident_notes")
    assert notes and all("incident_id" in n for n in notes)
    assert any(n["updated_at"] > n["created_at"] for n in notes)  # some notes were edited


# ------------------------------------------------------------------------------------------------
# scale: burst
# ------------------------------------------------------------------------------------------------
def test_burst_listed_via_windows(emulator_factory):
    emu = emulator_factory(
        seed=3,
        incidents=100,
        days=90,
        now="2026-11-01T00:00:00Z",
        bursts=("2026-09-01:30:12000",),
    )
    s = session()
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    month = {"since": z(start), "until": z(start + timedelta(days=30)), "total": "true"}
    first: Params = {**month, "limit": 1}
    r = s.get(emu.url + "/incidents", params=first).json()
    assert r["total"] > 12000
    past_cap: Params = {**month, "offset": 9950, "limit": 100}
    r = s.get(emu.url + "/incidents", params=past_cap)
    assert r.status_code == 400
    seen = 0
    ids: set[str] = set()
    for k in range(6):
        win = {
            "since": z(start + timedelta(days=5 * k)),
            "until": z(start + timedelta(days=5 * k + 5)),
        }
        recs = page_all(s, emu.url + "/incidents", "incidents", win)
        seen += len(recs)
        ids.update(i["id"] for i in recs)
    truth = emu.truth("incidents", since=month["since"], until=month["until"])
    assert seen == len(truth) == len(ids)


def test_fast_incident_renderer_matches_reference(emulator):
    emulator.advance(30)
    r = emulator.r
    for inc in emulator.world.incidents:
        assert json.loads(r.incident(inc)) == json.loads(r._incident_dict(inc))


def test_truth_records_match_project_schemas(emulator):
    """Every stream's records validate against schemas/<stream>.json (when present)."""
    jsonschema = pytest.importorskip("jsonschema")
    root = Path(__file__).resolve().parent.parent / "schemas"
    if not root.is_dir():
        pytest.skip("no schemas directory")
    emulator.advance(24)
    for path in sorted(root.glob("*.json")):
        stream = path.stem
        kw = {}
        if stream == "oncalls":
            kw = {"since": "2026-11-02T00:00:00Z", "until": "2026-11-09T00:00:00Z"}
        if stream.startswith("analytics_metrics_"):
            kw = {"since": "2026-08-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"}
        try:
            records = [as_written(stream, r) for r in emulator.truth(stream, **kw)]
        except KeyError:
            continue
        validator = jsonschema.Draft7Validator(json.loads(path.read_text()))
        for rec in records[:300]:
            errors = [e.message for e in validator.iter_errors(rec)]
            assert not errors, (stream, errors[:3])


def test_date_skew_and_token_revoked_mid_run(emulator):
    from email.utils import parsedate_to_datetime

    s = session()
    url = emulator.url + "/priorities"
    requests.post(
        emulator.url + "/_admin/config",
        json={"date_skew_seconds": 7200, "date_skew_path": "^/prio", "date_skew_every": 2},
    )
    dates = [parsedate_to_datetime(s.get(url).headers["Date"]) for _ in range(4)]
    assert [d - NOW for d in dates] == [timedelta(0), timedelta(hours=2)] * 2
    other = parsedate_to_datetime(s.get(emulator.url + "/teams").headers["Date"])
    assert other == NOW  # another path: never skewed
    admin = requests.get(emulator.url + "/_admin/now")
    assert parsedate_to_datetime(admin.headers["Date"]) == NOW
    emulator.configure(date_skew_seconds=0, fault_401_after=emulator.stats()["requests"] + 1)
    assert s.get(url).status_code == 200
    assert [s.get(url).status_code for _ in range(2)] == [401, 401]
    assert emulator.stats()["after_first_401"] == 1


def test_stats_count_a_request_whose_answer_was_already_read(emulator, monkeypatch) -> None:
    """A request's answer reaches the client before the emulator counts it: `stats()` waits
    for the requests in flight, so a test that reads the counts right after its sync sees
    every request (`settle=False` shows the gap that waiting closes)."""
    counted = threading.Event()
    end = Stats.end

    def end_after_the_test_looked(self: Stats, *args: Any) -> None:
        counted.wait(30)  # a bound against a hang; the test sets it as soon as it has looked
        end(self, *args)

    monkeypatch.setattr(Stats, "end", end_after_the_test_looked)
    emulator.reset_stats()
    assert session().get(emulator.url + "/priorities").status_code == 200
    early = emulator.stats(settle=False)
    assert early["in_flight"] == 1 and "/priorities" not in early["by_path"], early
    # Counted a little later, while `stats()` waits (were it not to wait, it would look first;
    # waiting, it passes whenever the count lands).
    threading.Timer(0.2, counted.set).start()
    settled = emulator.stats()
    assert settled["in_flight"] == 0 and settled["by_path"]["/priorities"] == {"200": 1}
