"""The HTML report as a person sees it: rendered in headless Chromium from mart rows made here
(no sync, no dbt: a few seconds), every chart draws its data, no text leaves its box, no row
of the page is half empty, and matplotlib never looks for a font the machine lacks."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from scripts import report, report_check

HOUR = 3600.0


def service(name: str, rank: int, incidents: int, mttr_median_h: float, mttr_p90_h: float):
    return {
        "service_name": name,
        "noise_rank": rank,
        "recent_incidents": incidents,
        "recent_high_urgency_incidents": incidents // 2,
        "recent_pages": incidents * 3,
        "recent_mtta_seconds": 700.0,
        "recent_mtta_median_seconds": 540.0,
        "recent_mtta_p90_seconds": 1500.0,
        "recent_mttr_seconds": mttr_p90_h * HOUR / 2,
        "recent_mttr_median_seconds": mttr_median_h * HOUR,
        "recent_mttr_p90_seconds": mttr_p90_h * HOUR,
        "alerts": incidents * 2,
    }


def marts() -> dict[str, list[dict]]:
    """Rows shaped like scripts.report.load's: a service whose incidents stay open for days
    next to fast ones, a CJK and an accented name, a paged user with no shift seen, and no
    hours on levels other than 1 (so "other levels" has nothing to draw)."""
    monday = date(2026, 1, 5)
    services = [
        service("Inventory Sync", 1, 9, 1.7, 195.0),
        service("Zürich Ledger", 2, 9, 3.2, 16.0),
        service("東京 DB", 3, 4, 2.3, 5.5),
        *(service(f"Service {n}", 3 + n, 5, 0.5 + n / 10, 2.0 + n) for n in range(1, 9)),
        {**service("Quiet Service", 12, 0, 0, 0), "recent_incidents": 0},
    ]
    users = [
        {
            "user_name": f"User {n}",
            "pages": 60 - n,
            "night_pages": 10 + n % 5,
            "oncall_hours": 0.0 if n == 3 else 100.0 * n,
            "primary_hours": 0.0 if n == 3 else 100.0 * n,
        }
        for n in range(1, 16)
    ]
    return {
        "weeks": [
            {
                "week_start": monday + timedelta(weeks=w),
                "incidents": 10 + w % 4,
                "high": 4,
                "mtta": 600.0 + w,
                "mttr": HOUR * (1 + (w % 9 == 0) * 80),
            }
            for w in range(30)
        ],
        "services": services,
        "hours": [
            {"hour": h, "urgency": u, "incidents": 5 + h % 3}
            for h in range(24)
            for u in ("high", "low")
        ],
        "totals": [
            {
                "incidents": 800,
                "mtta": 630.0,
                "mtta_median": 450.0,
                "mtta_p90": 1470.0,
                "mttr": 37.2 * HOUR,
                "mttr_median": 1.2 * HOUR,
                "mttr_p90": 4.1 * HOUR,
                "business_time_zone": "Europe/Berlin",
                "after_hours": 0.76,
                "escalated": 0.19,
                "open": 3,
                "first_at": datetime(2025, 1, 1),
                "last_at": datetime(2026, 12, 7),
            }
        ],
        "load": users,
        "access": [
            {
                "name": "Amélie Tanaka",
                "role": "admin",
                "teams": 2,
                "team_roles": "Platform Ops (observer), 東京 DB (responder)",
                "contact_methods": 3,
                "notification_rules": 5,
                "audit_actions": 20,
                "last_activity_at": datetime(2026, 11, 11, 7, 47),
            }
        ],
    }


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# Session-scoped: pytest-xdist interleaves modules on a worker, which would tear a module
# fixture down and build it again.
@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> tuple[Path, str, list[str]]:
    """The page, its HTML, and matplotlib's log lines at WARNING while it was drawn."""
    page = tmp_path_factory.mktemp("report") / "report.html"
    logger = logging.getLogger("matplotlib")
    collect, level = Collect(), logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.WARNING)
    try:
        page.write_text(report.render(marts(), "test account"), encoding="utf-8")
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
    return page, page.read_text(encoding="utf-8"), collect.lines


@pytest.fixture(scope="session")
def browser_check(rendered) -> dict:
    try:
        report_check.chromium()
    except report_check.ChromiumMissing as missing:
        pytest.skip(str(missing))
    return report_check.check(rendered[0])


def test_no_font_lookup_warnings(rendered) -> None:
    """matplotlib is asked only for fonts the machine has (the demo printed 1,398
    `findfont: Font family 'Noto Sans CJK JP' not found` lines)."""
    assert not [line for line in rendered[2] if "findfont" in line]


def test_the_page_states_medians_p90_and_time_zones(rendered) -> None:
    _, html, _ = rendered
    assert "median time to resolve" in html and "mean 37.2 h · p90 4.1 h" in html
    assert "1.2 h" in html  # the median, as the card's figure
    assert "Creation hour in Europe/Berlin" in html and "hour of day (Europe/Berlin)" in html
    assert "MTTR p90 h" in html and "195.0" in html
    # Legends only for what is drawn: no hours on other levels, so no such legend entry.
    assert "other levels" not in html.replace("(level 1 and other levels)", "")
    assert "no shift seen" in html  # the paged user without a known shift


def test_every_chart_draws_its_data_in_chromium(browser_check) -> None:
    charts = browser_check["charts"]
    assert len(charts) == 5
    assert all(chart["marks"] > 0 for chart in charts), charts


def test_no_text_overflows_and_no_row_is_half_empty(browser_check) -> None:
    assert browser_check["overflow"] == []
    assert browser_check["half_rows"] == []


def test_the_check_sees_overflow_and_half_rows(rendered, tmp_path, browser_check) -> None:
    """The browser check can fail: a third half-width section alone in its row and a card too
    narrow for its text are reported."""
    _, html, _ = rendered
    broken = html.replace(
        "</main>",
        "<div class='grid'>"
        + "<section><h2>one of three</h2><p>x</p></section>" * 3
        + "</div></main>",
    ).replace(
        "<span>incidents</span>",
        "<span style='display:block;white-space:nowrap;overflow:hidden;width:20px'>"
        "incidents and many more words</span>",
        1,
    )
    page = tmp_path / "broken.html"
    page.write_text(broken, encoding="utf-8")
    result = report_check.check(page)
    assert result["half_rows"], result
    assert any("incidents and many more words" in line for line in result["overflow"]), result
