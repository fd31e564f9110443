"""Offset paging over a listing that changes while it is read.

PagerDuty pages by position: a row removed ahead of the offset makes the next page skip one,
a row added makes one come twice, and one of each leaves `total` unchanged while a row is
still skipped. Pages overlap by one record, a page that does not start where the previous
one ended means the listing moved, and the listing is then read once more: every entity that
existed throughout the read is emitted exactly once.
"""

from __future__ import annotations

import typing as t

from tests.support.tap_runs import config_for, run_process
from tests.test_paging_guard import answer_and_count, ids


class Moving:
    """A listing of `size` priorities that changes (`change(rows)`) right after the first
    page is answered, and `again` times more after later first pages."""

    def __init__(self, size: int, change: t.Callable[[list[str]], None], again: int = 0) -> None:
        self.rows = [f"P{i:03d}" for i in range(size)]
        self.change = change
        self.changes_left = 1 + again
        self.stable = set(self.rows)

    def answer(self, path: str, query: dict) -> dict:
        offset, limit = int(query["offset"]), int(query["limit"])
        page = self.rows[offset : offset + limit]
        body = {
            "priorities": [{"id": i} for i in page],
            "more": offset + len(page) < len(self.rows),
            "total": len(self.rows) if "total" in query else None,
        }
        if offset == 0 and self.changes_left:
            self.changes_left -= 1
            before = set(self.rows)
            self.change(self.rows)
            self.stable &= set(self.rows) & before
        return body


def delete_ahead(rows: list[str]) -> None:
    del rows[3]


def insert_ahead(rows: list[str]) -> None:
    rows.insert(3, f"N{len(rows)}")


def delete_and_insert_ahead(rows: list[str]) -> None:
    """`total` stays the same: only the overlap shows that rows moved."""
    del rows[3]
    rows.insert(150, f"N{len(rows)}")


def assert_each_stable_once(listing: Moving, got: list[str]) -> None:
    assert len(got) == len(set(got)), "a record came twice"
    missing = listing.stable - set(got)
    assert not missing, f"{len(missing)} stable records missing, e.g. {sorted(missing)[:3]}"


def test_a_row_deleted_ahead_of_the_offset_is_healed(caplog) -> None:
    caplog.set_level("INFO")
    listing = Moving(250, delete_ahead)
    output, requests = answer_and_count(listing.answer)
    assert_each_stable_once(listing, ids(output, "priorities"))
    # One read (offsets 0, 99, 198: the page at 198 may be cancelled before it is sent once
    # the page at 99 shows the move), then a second whole read (0, 99, 198).
    assert requests in (5, 6), requests
    assert any("changed while it was paged" in r.getMessage() for r in caplog.records)


def test_a_row_inserted_ahead_of_the_offset_comes_once() -> None:
    listing = Moving(250, insert_ahead)
    output, _requests = answer_and_count(listing.answer)
    assert_each_stable_once(listing, ids(output, "priorities"))


def test_a_delete_and_an_insert_leaving_the_total_unchanged_are_noticed() -> None:
    listing = Moving(250, delete_and_insert_ahead)
    output, _requests = answer_and_count(listing.answer)
    assert_each_stable_once(listing, ids(output, "priorities"))


def test_a_listing_that_moves_again_while_read_again_is_said_and_not_looped(caplog) -> None:
    listing = Moving(250, delete_ahead, again=5)
    output, requests = answer_and_count(listing.answer)
    got = ids(output, "priorities")
    assert len(got) == len(set(got))
    assert requests <= 3 + 4  # one read, then one more (never a loop)
    warned = [r.getMessage() for r in caplog.records if "changed again" in r.getMessage()]
    assert len(warned) == 1 and "/priorities" in warned[0], warned


def test_users_paged_while_one_is_deleted_and_one_created_equal_truth(
    emulator_factory, tmp_path
) -> None:
    """The emulator deletes the first user and creates one further on right after the
    first `/users` page: the total stays 39, yet without the overlap the user at the
    second page's first offset would be skipped."""
    emulator = emulator_factory(seed=5, incidents=10, days=10, now="2026-11-01T00:00:00Z")
    users = [u["id"] for u in emulator.world.users]
    deleted, created = users[0], users[7]
    emulator.churn.add(
        [
            {"action": "create", "kind": "users", "id": created, "path": "/users"},
            {"action": "delete", "kind": "users", "id": deleted, "path": "/users"},
        ]
    )
    output = run_process(config_for(emulator, page_size=5), tmp_path, ["users"], timeout=120)
    assert output.returncode == 0, output.stderr[-2000:]
    got = ids(output, "users")
    stable = {u["id"] for u in emulator.truth("users")} - {created}
    assert len(got) == len(set(got)), "a user came twice"
    assert stable <= set(got), sorted(stable - set(got))
    assert set(got) <= stable | {deleted, created}
    assert "1 listing(s) re-read because they changed while paged (users 1)" in output.stderr
