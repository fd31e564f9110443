"""A static HTML report from the dbt marts (analytics/) in a DuckDB warehouse.

Charts are drawn with matplotlib and inlined as SVG, so the page is one file that works
offline: no scripts, stylesheets, fonts or images from anywhere else. Text stays text in the
SVG (the browser draws it with its own fonts, which covers names like "東京 DB").

    .venv/bin/python -m scripts.report output/pagerduty.duckdb output/report.html
"""

from __future__ import annotations

import argparse
import html
import io
import sys
import warnings
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "analytics"
BLUE, ORANGE, GREY, RED = "#2563eb", "#ea580c", "#9ca3af", "#dc2626"
TOP_USERS = 15

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP",
       sans-serif; margin: 0; background: #f3f4f6; color: #111827; }
header { background: #111827; color: #f9fafb; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #d1d5db; font-size: 14px; }
main { padding: 20px 32px; max-width: 1280px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.card, section { background: #fff; border-radius: 8px; box-shadow: 0 1px 2px #0002; }
.card { padding: 12px 16px; }
.card b { display: block; font-size: 24px; }
.card span { color: #6b7280; font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px;
        margin-top: 16px; }
section { padding: 12px 16px; }
section h2 { font-size: 16px; margin: 4px 0 8px; }
section p { color: #4b5563; font-size: 13px; margin: 0 0 8px; }
svg { width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
footer { color: #6b7280; font-size: 12px; padding: 8px 32px 24px; }
"""


# --------------------------------------------------------------------------- data
def rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def load(con) -> dict[str, list[dict]]:
    m = SCHEMA
    return {
        "weeks": rows(
            con,
            f"select week_start, sum(incidents) as incidents, "
            f"sum(high_urgency_incidents) as high, "
            f"sum(mtta_seconds * acknowledged_incidents) / nullif(sum(case when mtta_seconds "
            f"is not null then acknowledged_incidents end), 0) as mtta, "
            f"sum(mttr_seconds * resolved_incidents) / nullif(sum(case when mttr_seconds "
            f"is not null then resolved_incidents end), 0) as mttr "
            f"from {m}.service_health_weekly group by week_start order by week_start",
        ),
        "services": rows(
            con, f"select * from {m}.service_health order by noise_rank, service_name"
        ),
        "hours": rows(
            con,
            f"select created_hour_local as hour, urgency, count(*) as incidents "
            f"from {m}.incident_lifecycle group by 1, 2 order by 1",
        ),
        "totals": rows(
            con,
            f"select count(*) as incidents, avg(seconds_to_first_ack) as mtta, "
            f"avg(seconds_to_resolve) as mttr, "
            f"avg(case when is_after_hours then 1.0 else 0.0 end) as after_hours, "
            f"avg(case when was_escalated then 1.0 else 0.0 end) as escalated, "
            f"sum(case when status <> 'resolved' then 1 else 0 end) as open, "
            f"min(created_at) as first_at, max(created_at) as last_at "
            f"from {m}.incident_lifecycle",
        ),
        "load": rows(
            con,
            f"select max(user_name) as user_name, sum(pages) as pages, "
            f"sum(night_pages) as night_pages, sum(oncall_hours) as oncall_hours, "
            f"sum(primary_oncall_hours) as primary_hours "
            f"from {m}.oncall_load_weekly group by user_id "
            f"order by sum(pages) desc, max(user_name)",
        ),
        "access": rows(
            con,
            f"select name, role, teams, team_roles, contact_methods, notification_rules, "
            f"audit_actions, last_activity_at from {m}.access_review order by role, name",
        ),
    }


# --------------------------------------------------------------------------- charts
def svg(figure) -> str:
    """The figure as inline SVG markup (no XML prolog), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with warnings.catch_warnings():
        # Without a CJK font, matplotlib only guesses the width of such labels for the layout;
        # the browser draws them with its own fonts.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def figure(height: float = 3.6, rows_: int = 1, sharex: bool = False, cols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # keep text as text: the browser's fonts draw it
            "font.family": installed_fonts(),
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#e5e7eb",
            "axes.axisbelow": True,
        }
    )
    return plt.subplots(
        rows_, cols, figsize=(7.2, height), sharex=sharex, sharey=cols > 1, squeeze=False
    )


def installed_fonts() -> list[str]:
    """The wanted font families that this machine has, so matplotlib never looks for a missing
    one (each miss is a `findfont` warning per label). Text stays text in the SVG and the
    browser draws it with its own fonts; this only guides matplotlib's layout."""
    from matplotlib import font_manager

    have = {font.name for font in font_manager.fontManager.ttflist}
    wanted = ["DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC"]
    return [name for name in wanted if name in have] or ["sans-serif"]


def chart_weekly(weeks: list[dict]) -> str:
    fig, axes = figure(5.2, 3, sharex=True)
    x = [w["week_start"] for w in weeks]
    low = [w["incidents"] - w["high"] for w in weeks]
    axes[0][0].bar(x, [w["high"] for w in weeks], width=6, color=RED, label="high urgency")
    axes[0][0].bar(
        x, low, width=6, bottom=[w["high"] for w in weeks], color=GREY, label="low urgency"
    )
    axes[0][0].set_ylabel("incidents")
    axes[0][0].legend(loc="upper left", frameon=False, ncol=2)
    axes[1][0].plot(x, [nan_if_none(minutes(w["mtta"])) for w in weeks], color=BLUE, marker=".")
    axes[1][0].set_ylabel("MTTA (min)")
    axes[2][0].plot(x, [nan_if_none(hours(w["mttr"])) for w in weeks], color=ORANGE, marker=".")
    axes[2][0].set_ylabel("MTTR (h)")
    axes[2][0].set_yscale("log")
    fig.autofmt_xdate()
    return svg(fig)


def chart_services(services: list[dict]) -> str:
    active = [s for s in services if s["recent_incidents"]][::-1]
    fig, axes = figure(0.9 + 0.28 * max(len(active), 3), 1, cols=2)
    names = [s["service_name"] for s in active]
    axes[0][0].barh(names, [minutes(s["recent_mtta_seconds"]) or 0 for s in active], color=BLUE)
    axes[0][0].set_xlabel("MTTA (minutes)")
    axes[0][1].barh(names, [hours(s["recent_mttr_seconds"]) or 0 for s in active], color=ORANGE)
    axes[0][1].set_xlabel("MTTR (hours)")
    axes[0][1].tick_params(labelleft=False)
    return svg(fig)


def chart_noise(services: list[dict]) -> str:
    active = [s for s in services if s["recent_incidents"]][::-1]
    fig, axes = figure(0.9 + 0.28 * max(len(active), 3), 1)
    ax = axes[0][0]
    names = [s["service_name"] for s in active]
    high = [s["recent_high_urgency_incidents"] for s in active]
    ax.barh(names, high, color=RED, label="high urgency")
    ax.barh(
        names,
        [s["recent_incidents"] - h for s, h in zip(active, high, strict=True)],
        left=high,
        color=GREY,
        label="low urgency",
    )
    ax.set_xlabel("incidents")
    ax.legend(loc="lower right", frameon=False)
    return svg(fig)


def chart_oncall(load: list[dict]) -> str:
    top = load[:TOP_USERS][::-1]
    fig, axes = figure(1.2 + 0.5 * max(len(top), 3), 2)
    names = [u["user_name"] or "?" for u in top]
    night = [u["night_pages"] for u in top]
    axes[0][0].barh(names, night, color="#312e81", label="at night (user's time zone)")
    axes[0][0].barh(
        names,
        [u["pages"] - n for u, n in zip(top, night, strict=True)],
        left=night,
        color=BLUE,
        label="daytime",
    )
    axes[0][0].set_xlabel("pages (notifications)")
    axes[0][0].legend(loc="lower right", frameon=False)
    primary = [float(u["primary_hours"] or 0) for u in top]
    axes[1][0].barh(names, primary, color=ORANGE, label="primary (level 1)")
    axes[1][0].barh(
        names,
        [float(u["oncall_hours"] or 0) - p for u, p in zip(top, primary, strict=True)],
        left=primary,
        color=GREY,
        label="other levels",
    )
    axes[1][0].set_xlabel("hours on call (known shifts)")
    axes[1][0].legend(loc="lower right", frameon=False)
    return svg(fig)


def chart_hours(by_hour: list[dict]) -> str:
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for row in by_hour:
        counts[row["urgency"]][int(row["hour"])] += row["incidents"]
    fig, axes = figure(2.8, 1)
    ax = axes[0][0]
    high, low = counts["high"], counts["low"]
    ax.bar(range(24), high, color=RED, label="high urgency")
    ax.bar(range(24), low, bottom=high, color=GREY, label="low urgency")
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel("hour of day (business time zone)")
    ax.set_ylabel("incidents")
    ax.legend(loc="upper left", frameon=False)
    return svg(fig)


# --------------------------------------------------------------------------- page
def minutes(seconds) -> float | None:
    return None if seconds is None else float(seconds) / 60


def hours(seconds) -> float | None:
    return None if seconds is None else float(seconds) / 3600


def nan_if_none(value: float | None) -> float:
    """A gap in a line chart (a week without acknowledged or resolved incidents)."""
    return float("nan") if value is None else value


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return f"{value:,}{unit}" if isinstance(value, int) else str(value)


def table(headers: list[str], body: list[list], numeric: set[int]) -> str:
    def cell(tag: str, i: int, value) -> str:
        klass = ' class="n"' if i in numeric else ""
        return f"<{tag}{klass}>{html.escape(fmt(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    lines = ["<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in body]
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


def section(title: str, note: str, content: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2><p>{html.escape(note)}</p>{content}</section>"


def render(data: dict[str, list[dict]], subtitle: str) -> str:
    totals = data["totals"][0]
    services = data["services"]
    cards = [
        (fmt(totals["incidents"]), "incidents"),
        (fmt(minutes(totals["mtta"]), " min"), "mean time to acknowledge"),
        (fmt(hours(totals["mttr"]), " h"), "mean time to resolve"),
        (fmt(100 * float(totals["after_hours"] or 0), " %"), "created after hours"),
        (fmt(100 * float(totals["escalated"] or 0), " %"), "escalated"),
        (fmt(totals["open"]), "still open"),
    ]
    noisy = [
        [
            s["noise_rank"],
            s["service_name"],
            s["recent_incidents"],
            s["recent_pages"],
            minutes(s["recent_mtta_seconds"]),
            hours(s["recent_mttr_seconds"]),
            s["alerts"],
        ]
        for s in services[:10]
    ]
    access = [
        [
            a["name"],
            a["role"],
            a["team_roles"] or "",
            a["contact_methods"],
            a["notification_rules"],
            a["audit_actions"],
            a["last_activity_at"],
        ]
        for a in data["access"]
    ]
    span = f"{fmt(totals['first_at'])[:10]} to {fmt(totals['last_at'])[:10]}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>PagerDuty report</title><style>{CSS}</style></head><body>",
        "<header><h1>PagerDuty: incidents, response times and on-call load</h1>",
        f"<p>{html.escape(subtitle)} · incidents created {html.escape(span)} · built by dbt "
        "from the synced warehouse</p></header><main>",
        "<div class='cards'>",
        *(
            f"<div class='card'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>"
            for v, k in cards
        ),
        "</div><div class='grid'>",
        section(
            "Incidents, MTTA and MTTR per week",
            "Week of creation (Monday, UTC). MTTA over acknowledged incidents, MTTR over "
            "resolved ones (log scale: a few incidents stay open for days).",
            chart_weekly(data["weeks"]),
        ),
        section(
            "MTTA and MTTR per service",
            f"Incidents of the last {NOISY_DAYS} days up to the newest one.",
            chart_services(services),
        ),
        section(
            "Noisiest services",
            f"Incidents of the last {NOISY_DAYS} days by urgency.",
            chart_noise(services),
        ),
        section(
            "Incidents by hour of day",
            "Creation hour in the business time zone (dbt var business_time_zone).",
            chart_hours(data["hours"]),
        ),
        section(
            "On-call load per user",
            f"The {TOP_USERS} most paged users: pages (night = 22:00-07:00 in the user's "
            "time zone) and hours on call in the shifts the syncs have seen.",
            chart_oncall(data["load"]),
        ),
        section(
            "Noisiest services (table)",
            "noise_rank from the service_health mart.",
            table(
                ["#", "service", "incidents", "pages", "MTTA min", "MTTR h", "alerts"],
                noisy,
                {0, 2, 3, 4, 5, 6},
            ),
        ),
        "</div><div class='grid'>",
        section(
            "Access review",
            "Every user: account role, teams (role on the team), contact "
            "methods, notification rules, audit actions and the last one.",
            table(
                [
                    "user",
                    "role",
                    "teams",
                    "contact methods",
                    "rules",
                    "audit actions",
                    "last activity (UTC)",
                ],
                access,
                {3, 4, 5},
            ),
        ),
        "</div></main>",
        f"<footer>Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        "scripts/report.py from the marts in analytics/ (schema analytics).</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


NOISY_DAYS = 90  # analytics/dbt_project.yml: noisy_window_days


def write_report(warehouse: Path, out: Path, subtitle: str = "") -> Path:
    """Render the report from the marts in `warehouse` (DuckDB, after `dbt build`) to `out`."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        data = load(con)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data, subtitle or warehouse.name), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.report", description=__doc__)
    parser.add_argument("warehouse", type=Path, help="DuckDB file with the dbt marts")
    parser.add_argument("out", type=Path, help="HTML file to write")
    options = parser.parse_args(argv)
    if not options.warehouse.exists():
        print(f"report: {options.warehouse} does not exist: run `make demo` first", file=sys.stderr)
        return 2
    import duckdb

    try:
        print(write_report(options.warehouse, options.out))
    except duckdb.CatalogException as error:
        first = str(error).splitlines()[0]
        print(
            f"report: {options.warehouse} has no dbt marts in schema `{SCHEMA}` ({first}): "
            "run `dbt build` in analytics/ first (see docs/analytics.md)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
