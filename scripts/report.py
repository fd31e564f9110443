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
import itertools
import sys
import warnings
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "analytics"
# The marts `load` reads.
REPORT_MARTS = (
    "access_review",
    "incident_lifecycle",
    "oncall_load_weekly",
    "service_health",
    "service_health_weekly",
)
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
section { padding: 12px 16px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
.card small { display: block; color: #6b7280; font-size: 12px; margin-top: 2px; }
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
            f"quantile_cont(seconds_to_first_ack, 0.5) as mtta_median, "
            f"quantile_cont(seconds_to_first_ack, 0.9) as mtta_p90, "
            f"avg(seconds_to_resolve) as mttr, "
            f"quantile_cont(seconds_to_resolve, 0.5) as mttr_median, "
            f"quantile_cont(seconds_to_resolve, 0.9) as mttr_p90, "
            f"max(business_time_zone) as business_time_zone, "
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
MARK_IDS = itertools.count(1)


def marked(artists) -> None:
    """Give drawn data (bars, lines, points) an id `mark-N` in the SVG, so a check in a
    browser can tell a chart that drew its data from one that drew only axes."""
    for artist in artists:
        artist.set_gid(f"mark-{next(MARK_IDS)}")


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


def figure(height: float = 3.6, rows_: int = 1, sharex: bool = False, cols: int = 1, width=7.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # keep text as text: the browser's fonts draw it
            "svg.hashsalt": "pagerduty-report",  # the same ids on every run
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
        rows_, cols, figsize=(width, height), sharex=sharex, sharey=cols > 1, squeeze=False
    )


def installed_fonts() -> list[str]:
    """The wanted font families that this machine has, so matplotlib never looks for a missing
    one (each miss is a `findfont` warning per label). Text stays text in the SVG and the
    browser draws it with its own fonts; this only guides matplotlib's layout."""
    from matplotlib import font_manager

    have = {font.name for font in font_manager.fontManager.ttflist}
    wanted = ["DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC"]
    return [name for name in wanted if name in have] or ["sans-serif"]


def legend(ax, **options) -> None:
    """A legend only for what is drawn: series whose values are all zero were not given a
    label (see `series`), so they do not appear."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, frameon=False, **options)


def series(values: Sequence[float], label: str) -> str | None:
    """The legend label of a series, or None (no legend entry) when it draws nothing."""
    return label if any(v for v in values) else None


def chart_weekly(weeks: list[dict]) -> str:
    fig, axes = figure(4.8, 3, sharex=True, width=14)
    x = [w["week_start"] for w in weeks]
    high = [w["high"] for w in weeks]
    low = [w["incidents"] - h for w, h in zip(weeks, high, strict=True)]
    marked(axes[0][0].bar(x, high, width=6, color=RED, label=series(high, "high urgency")))
    marked(
        axes[0][0].bar(x, low, width=6, bottom=high, color=GREY, label=series(low, "low urgency"))
    )
    axes[0][0].set_ylabel("incidents")
    legend(axes[0][0], loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)
    marked(
        axes[1][0].plot(x, [nan_if_none(minutes(w["mtta"])) for w in weeks], color=BLUE, marker=".")
    )
    axes[1][0].set_ylabel("MTTA (min)")
    marked(
        axes[2][0].plot(x, [nan_if_none(hours(w["mttr"])) for w in weeks], color=ORANGE, marker=".")
    )
    axes[2][0].set_ylabel("MTTR (h, log)")
    axes[2][0].set_yscale("log")
    fig.autofmt_xdate()
    return svg(fig)


def chart_services(services: list[dict]) -> str:
    """Per service, median (bar), 90th percentile (tick) and mean (diamond) on a log axis,
    so a service whose incidents stay open for days does not flatten the others; the median
    and p90 are printed beside each bar."""
    active = [s for s in services if s["recent_incidents"]][::-1]
    fig, axes = figure(1.4 + 0.3 * max(len(active), 3), 1, cols=2, width=14)
    names = [s["service_name"] for s in active]
    panels = [
        (axes[0][0], "recent_mtta", minutes, "min", BLUE, "time to acknowledge (minutes, log)"),
        (axes[0][1], "recent_mttr", hours, "h", ORANGE, "time to resolve (hours, log)"),
    ]
    for ax, key, unit, suffix, color, title in panels:
        median = [unit(s[f"{key}_median_seconds"]) for s in active]
        p90 = [unit(s[f"{key}_p90_seconds"]) for s in active]
        mean = [unit(s[f"{key}_seconds"]) for s in active]
        drawn = [v for v in (*median, *p90, *mean) if v]
        if not drawn:
            ax.text(0.5, 0.5, "no acknowledged or resolved incidents", ha="center")
            continue
        floor, top = min(drawn) / 2, max(drawn)
        positions = list(range(len(active)))
        marked(
            ax.barh(
                positions,
                [(m or floor) - floor for m in median],
                left=floor,
                color=color,
                label="median",
            )
        )
        marked(
            ax.plot(
                [nan_if_none(v) for v in p90],
                positions,
                linestyle="none",
                marker="|",
                markersize=10,
                color="#111827",
                label="90th percentile",
            )
        )
        marked(
            ax.plot(
                [nan_if_none(v) for v in mean],
                positions,
                linestyle="none",
                marker="D",
                markersize=4,
                markerfacecolor="white",
                color="#111827",
                label="mean",
            )
        )
        for y, (m, p) in enumerate(zip(median, p90, strict=True)):
            ax.text(
                max(v for v in (m, p, floor) if v) * 1.25,
                y,
                f"{short(m)} / {short(p)} {suffix}",
                va="center",
                color="#374151",
            )
        ax.set_xscale("log")
        ax.set_xlim(floor, top * 15)  # room for the printed values
        ax.set_yticks(positions)
        ax.set_yticklabels(names)
        ax.set_xlabel(title)
        ax.grid(axis="y", visible=False)
    axes[0][1].tick_params(labelleft=False)
    legend(axes[0][0], loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)
    return svg(fig)


def short(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def chart_noise(services: list[dict]) -> str:
    active = [s for s in services if s["recent_incidents"]][::-1]
    fig, axes = figure(1.1 + 0.3 * max(len(active), 3), 1)
    ax = axes[0][0]
    names = [s["service_name"] for s in active]
    high = [s["recent_high_urgency_incidents"] for s in active]
    low = [s["recent_incidents"] - h for s, h in zip(active, high, strict=True)]
    marked(ax.barh(names, high, color=RED, label=series(high, "high urgency")))
    marked(ax.barh(names, low, left=high, color=GREY, label=series(low, "low urgency")))
    ax.set_xlabel("incidents")
    legend(ax, loc="lower right")
    return svg(fig)


def chart_oncall(load: list[dict]) -> str:
    """Pages and hours on call of the most paged users, side by side (one bar row per user)."""
    top = load[:TOP_USERS][::-1]
    fig, axes = figure(1.2 + 0.3 * max(len(top), 3), 1, cols=2, width=14)
    names = [u["user_name"] or "?" for u in top]
    night = [u["night_pages"] for u in top]
    day = [u["pages"] - n for u, n in zip(top, night, strict=True)]
    pages_ax, hours_ax = axes[0]
    marked(pages_ax.barh(names, night, color="#312e81", label=series(night, "at night")))
    marked(pages_ax.barh(names, day, left=night, color=BLUE, label=series(day, "daytime")))
    pages_ax.set_xlabel("pages (notifications)")
    legend(pages_ax, loc="lower right")
    primary = [float(u["primary_hours"] or 0) for u in top]
    other = [float(u["oncall_hours"] or 0) - p for u, p in zip(top, primary, strict=True)]
    marked(hours_ax.barh(names, primary, color=ORANGE, label=series(primary, "level 1")))
    marked(
        hours_ax.barh(names, other, left=primary, color=GREY, label=series(other, "other levels"))
    )
    for y, user in enumerate(top):
        if not float(user["oncall_hours"] or 0):
            hours_ax.text(0, y, " no shift seen", va="center", fontsize=8, color="#6b7280")
    hours_ax.set_xlabel("hours on call (shifts the syncs have seen)")
    hours_ax.tick_params(labelleft=False)
    legend(hours_ax, loc="lower right")
    return svg(fig)


def chart_hours(by_hour: list[dict], time_zone: str) -> str:
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for row in by_hour:
        counts[row["urgency"]][int(row["hour"])] += row["incidents"]
    fig, axes = figure(3.2, 1)
    ax = axes[0][0]
    high, low = counts["high"], counts["low"]
    marked(ax.bar(range(24), high, color=RED, label=series(high, "high urgency")))
    marked(ax.bar(range(24), low, bottom=high, color=GREY, label=series(low, "low urgency")))
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel(f"hour of day ({time_zone})")
    ax.set_ylabel("incidents")
    legend(ax, loc="upper left")
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


def section(title: str, note: str, content: str, wide: bool = False) -> str:
    """A card of the page; `wide` spans the whole row, so no row is left half empty."""
    klass = " class='wide'" if wide else ""
    return (
        f"<section{klass}><h2>{html.escape(title)}</h2><p>{html.escape(note)}</p>{content}"
        "</section>"
    )


def render(data: dict[str, list[dict]], subtitle: str) -> str:
    totals = data["totals"][0]
    services = data["services"]
    time_zone = totals["business_time_zone"] or "UTC"
    cards = [
        (fmt(totals["incidents"]), "incidents", ""),
        (
            fmt(minutes(totals["mtta_median"]), " min"),
            "median time to acknowledge",
            f"mean {fmt(minutes(totals['mtta']), ' min')} · p90 "
            f"{fmt(minutes(totals['mtta_p90']), ' min')}",
        ),
        (
            fmt(hours(totals["mttr_median"]), " h"),
            "median time to resolve",
            f"mean {fmt(hours(totals['mttr']), ' h')} · p90 {fmt(hours(totals['mttr_p90']), ' h')}",
        ),
        (
            fmt(100 * float(totals["after_hours"] or 0), " %"),
            "created after hours",
            f"business hours in {time_zone}",
        ),
        (fmt(100 * float(totals["escalated"] or 0), " %"), "escalated", ""),
        (fmt(totals["open"]), "still open", ""),
    ]
    noisy = [
        [
            s["noise_rank"],
            s["service_name"],
            s["recent_incidents"],
            s["recent_pages"],
            minutes(s["recent_mtta_median_seconds"]),
            minutes(s["recent_mtta_p90_seconds"]),
            hours(s["recent_mttr_median_seconds"]),
            hours(s["recent_mttr_p90_seconds"]),
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
            f"<div class='card'><b>{html.escape(v)}</b><span>{html.escape(k)}</span>"
            + (f"<small>{html.escape(detail)}</small>" if detail else "")
            + "</div>"
            for v, k, detail in cards
        ),
        "</div><div class='grid'>",
        section(
            "Incidents, MTTA and MTTR per week",
            "Week of creation (Monday, UTC). Mean MTTA over acknowledged incidents, mean MTTR "
            "over resolved ones (log scale: a few incidents stay open for days).",
            chart_weekly(data["weeks"]),
            wide=True,
        ),
        section(
            "Time to acknowledge and resolve per service",
            f"Incidents of the last {NOISY_DAYS} days up to the newest one: median (bar), 90th "
            "percentile (tick) and mean (diamond), log scales; printed: median / p90.",
            chart_services(services),
            wide=True,
        ),
        section(
            "Noisiest services",
            f"Incidents of the last {NOISY_DAYS} days by urgency.",
            chart_noise(services),
        ),
        section(
            "Incidents by hour of day",
            f"Creation hour in {time_zone} (dbt var business_time_zone).",
            chart_hours(data["hours"], time_zone),
        ),
        section(
            "On-call load per user",
            f"The {TOP_USERS} most paged users: pages (night: 22:00-07:00 by default, dbt vars "
            "night_start_hour and night_end_hour, in each user's own PagerDuty time zone) and "
            "hours on call (level 1 and other levels) in the shifts the syncs have seen.",
            chart_oncall(data["load"]),
            wide=True,
        ),
        section(
            "Noisiest services (table)",
            f"noise_rank from the service_health mart; last {NOISY_DAYS} days.",
            table(
                [
                    "#",
                    "service",
                    "incidents",
                    "pages",
                    "MTTA median min",
                    "MTTA p90 min",
                    "MTTR median h",
                    "MTTR p90 h",
                    "MTTR mean h",
                    "alerts",
                ],
                noisy,
                {0, 2, 3, 4, 5, 6, 7, 8, 9},
            ),
            wide=True,
        ),
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
            wide=True,
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
