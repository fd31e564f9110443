"""Helpers to run Meltano from scripts and tests: a clean environment and readable progress."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent

# `2026-11-23T20:20:16.070635Z [info     ] target-duckdb Loading 3 rows into ...`
LINE = re.compile(r"^\S+ \[(?P<level>\w+)\s*\] (?P<name>\S+)\s+(?P<message>.*)$")
LOADING = re.compile(r"Loading (\d+) rows into '(?:\"[^\"]*\"\.)*\"([^\"]+)\"'")
BEGIN = re.compile(r"Beginning sync of '(?P<stream>[^']+)' in (?P<mode>\w+) mode")
BOOKMARK = re.compile(
    r"Starting incremental sync of '(?P<stream>[^']+)' with bookmark value: (?P<value>.*)$"
)
WINDOW = re.compile(
    r"(?P<stream>\w+): window \S+ complete, (?P<records>\d+) records so far, "
    r"(?P<percent>[\d.]+)% of the range done"
)
MELTANO_SHOWN = (
    "Installing ",
    "Installed ",
    "Running catalog discovery",
    "Extractor failed",
    "Loader failed",
)
# Warnings that say what was meant to happen (the demo clears its state for a full sync),
# shown as the plain facts they are: a warning line should be one the user can act on.
EXPECTED_WARNINGS = {
    "No state was found, complete import.": "no saved state: a full sync",
}
# Settings the caller sets itself; inherited values would be mixed in otherwise.
OWN_PREFIXES = ("TAP_PAGERDUTY_", "TARGET_DUCKDB_")


def meltano_env(**extra: str) -> dict[str, str]:
    """The current environment without tap/target settings, plus Meltano defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("MELTANO_ENVIRONMENT", "dev")
    env.update(extra)
    return env


class MeltanoProgress:
    """Turns Meltano's console log into a few progress lines.

    Shown: Meltano's install and failure lines, every warning and error, the tap's stream
    starts and per-window progress, and every `every` seconds a line with the records the tap
    has read and the rows the target has loaded.
    """

    def __init__(self, out: Callable[[str], None], prefix: str = "", every: float = 10.0):
        self.out = out
        self.prefix = prefix
        self.every = every
        self.started = time.monotonic()
        self.last_beat = self.started
        self.records = 0
        self.loaded = 0
        self.loaded_by_table: dict[str, int] = {}
        self.quarters: dict[str, int] = {}
        self.last_said = (0, 0)

    def say(self, text: str) -> None:
        self.out(f"{self.prefix}{text}")

    def feed(self, raw: str) -> None:
        match = LINE.match(raw.rstrip("\n"))
        if match:
            self._line(match["level"].lower(), match["name"], match["message"])
        now = time.monotonic()
        if now - self.last_beat >= self.every:
            self.last_beat = now
            self.beat()

    def beat(self) -> None:
        # Once per change: the closing beat of a run repeats nothing the last one said.
        if (self.records or self.loaded) and (self.records, self.loaded) != self.last_said:
            self.last_said = (self.records, self.loaded)
            self.say(
                f"... {now_s(self.started)}: tap read {self.records:,} records, "
                f"target loaded {self.loaded:,} rows"
            )

    def finish(self) -> None:
        if self.records or self.loaded:
            self.beat()

    def _line(self, level: str, name: str, message: str) -> None:
        if "METRIC: " in message:
            self._metric(message)
            return
        if message.strip() in EXPECTED_WARNINGS:
            self.say(f"{name}: {EXPECTED_WARNINGS[message.strip()]}")
            return
        if level in ("warning", "error", "critical"):
            if message.strip():
                self.say(f"{name}: {level}: {message}")
            return
        if name == "meltano":
            if message.startswith(MELTANO_SHOWN):
                self.say(message)
        elif name.startswith("tap-"):
            self._tap(name, message)
        elif name.startswith("target-"):
            loading = LOADING.search(message)
            if loading:
                rows, table = int(loading[1]), loading[2]
                self.loaded += rows
                self.loaded_by_table[table] = self.loaded_by_table.get(table, 0) + rows

    def _tap(self, name: str, message: str) -> None:
        begin = BEGIN.match(message)
        if begin and "with context" not in message:
            self.say(f"{name}: {begin['stream']} ({begin['mode'].replace('_', ' ')})")
            return
        bookmark = BOOKMARK.match(message)
        if bookmark and bookmark["value"] != "None":
            self.say(f"{name}:   {bookmark['stream']} resumes from {bookmark['value']}")
            return
        window = WINDOW.match(message)
        if window:
            # At most one line per quarter of each stream's range.
            stream, done = window["stream"], float(window["percent"])
            quarter = int(done // 25)
            if quarter > self.quarters.get(stream, 0):
                self.quarters[stream] = quarter
                self.say(f"{name}:   {stream}: {window['records']} records, {done:.0f}% done")

    def _metric(self, message: str) -> None:
        try:
            metric = json.loads(message.split("METRIC: ", 1)[1])
        except (ValueError, IndexError):
            return
        if metric.get("metric") == "record_count":
            self.records += int(metric.get("value") or 0)


def now_s(started: float) -> str:
    return f"{time.monotonic() - started:4.0f} s"
