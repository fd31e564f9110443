"""Every stream is complete: a schema file, a dbt source table and staging model, a docs row.

Adding a stream is one class (listed in `STREAM_TYPES`) and one schema file; the warehouse
model and the docs row are the two other places a reader looks for it (CONTRIBUTING.md).
This test names what a new stream still lacks, and what is left over after one is removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tap_pagerduty.streams import STREAM_TYPES

ROOT = Path(__file__).resolve().parents[1]
STAGING = ROOT / "analytics" / "models" / "staging"
NAMES = [cls.name for cls in STREAM_TYPES]


def source_tables() -> set[str]:
    sources = yaml.safe_load((STAGING / "_sources.yml").read_text())
    return {table["name"] for source in sources["sources"] for table in source["tables"]}


def documented_streams() -> set[str]:
    text = (ROOT / "docs" / "streams.md").read_text()
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))


@pytest.mark.parametrize("stream", NAMES)
def test_every_stream_has_its_schema_model_and_docs_row(stream: str) -> None:
    lacks = []
    if not (ROOT / "schemas" / f"{stream}.json").is_file():
        lacks.append(f"schemas/{stream}.json")
    if stream not in source_tables():
        lacks.append(f"a table '{stream}' in analytics/models/staging/_sources.yml")
    model = STAGING / f"stg_{stream}.sql"
    if not model.is_file():
        lacks.append(f"analytics/models/staging/stg_{stream}.sql")
    elif f"'{stream}'" not in model.read_text():
        lacks.append(f"stg_{stream}.sql reading source(..., '{stream}')")
    if stream not in documented_streams():
        lacks.append(f"a row '| `{stream}` |' in docs/streams.md")
    assert not lacks, f"stream {stream} lacks: {', '.join(lacks)} (see CONTRIBUTING.md)"


def test_nothing_is_left_over_from_a_removed_stream() -> None:
    streams = set(NAMES)
    left = {
        "schemas/": {p.stem for p in (ROOT / "schemas").glob("*.json")} - streams,
        "_sources.yml": source_tables() - streams,
        "staging models": {p.stem.removeprefix("stg_") for p in STAGING.glob("stg_*.sql")}
        - streams,
        "docs/streams.md": documented_streams() - streams,
    }
    assert not any(left.values()), f"no stream has these: {left}"


def documented_optional_streams() -> set[str]:
    """The streams docs/streams.md's "Optional streams" section names as optional."""
    text = (ROOT / "docs" / "streams.md").read_text()
    section = text.split("## Optional streams", 1)[1].split("\n## ", 1)[0]
    listed = section.split("These streams are therefore optional:", 1)[1].split("(each class", 1)
    names = set(re.findall(r"`([a-z_*]+)`", listed[0]))
    metrics = {name for name in NAMES if name.startswith("analytics_metrics_")}
    return (names - {"analytics_metrics_*"}) | (
        metrics if "analytics_metrics_*" in names else set()
    )


def test_the_docs_name_the_optional_streams_the_classes_declare() -> None:
    declared = {cls.name for cls in STREAM_TYPES if cls.optional}
    assert documented_optional_streams() == declared


def test_the_benchmarks_attribute_each_streams_requests_to_it() -> None:
    """The benchmarks count requests per stream from the stream classes' paths (no list of
    their own): every stream's request is counted as its own."""
    from benchmarks.scenarios import stream_of

    for cls in STREAM_TYPES:
        if (template := cls.path_template()) is not None:
            path = re.sub(r"\{[^}]*\}", "P1D2", template)
            assert stream_of(path, "limit=100") == cls.name, template
