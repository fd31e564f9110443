"""Docs that cannot drift: README.md and docs/ against the result files and the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts import docs
from tap_pagerduty.streams import STREAM_TYPES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_every_generated_figure_matches_its_result_file() -> None:
    assert docs.run(check=True) == []


def test_pages_quote_generated_figures() -> None:
    """The check has something to check: each kind of source is quoted somewhere."""
    text = "\n".join(page.read_text() for page in docs.PAGES)
    for block in docs.BLOCKS:
        assert f"<!-- generated: {block} -->" in text, block
    for stem in ("latest", "b8_backfill", "demo"):
        assert f"<!--fig:{stem}:" in text, stem


@pytest.mark.parametrize(
    ("page", "generated", "edited"),
    [
        # a figure in a sentence, edited by hand
        ("docs/streams.md", "884<!--/fig-->", "880<!--/fig-->"),
        # a row of a generated table
        (
            "docs/performance.md",
            "| B7 | after: full sync, demo account | 12,840 | 884 |",
            "| B7 | after: full sync, demo account | 12,840 | 800 |",
        ),
        # the demo's summary
        ("docs/demo.md", "1,096 API requests", "1,000 API requests"),
        # the settings table from --about
        ("docs/settings.md", "| page_size | False | 100 |", "| page_size | False | 50 |"),
    ],
)
def test_a_figure_edited_by_hand_fails_the_check(page: str, generated: str, edited: str) -> None:
    text = (ROOT / page).read_text()
    assert generated in text, f"{page} no longer quotes {generated!r}: update this test"
    rewritten, differences = docs.render(text.replace(generated, edited, 1), page)
    assert differences and page in differences[0]
    assert rewritten == text  # and the generator puts the figure back


def test_a_path_that_names_nothing_is_an_error() -> None:
    with pytest.raises(docs.DocsError, match="no key 'nope'"):
        docs.figure("latest:rows[label=hourly rerun].nope")


def test_readme_is_short_and_shows_the_two_commands() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 250
    assert "make demo" in text and "make test" in text


def test_readme_lists_every_stream() -> None:
    section = README.read_text().split("## Streams", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section))
    assert listed == {cls.name for cls in STREAM_TYPES}


def test_relative_links_resolve() -> None:
    broken = []
    for page in (README, *ROOT.glob("docs/*.md"), ROOT / "CHANGELOG.md"):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_readme_and_changelog_count_the_streams() -> None:
    count = f"{len(STREAM_TYPES)} streams"
    assert count in README.read_text()
    assert count in (ROOT / "CHANGELOG.md").read_text()
