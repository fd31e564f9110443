"""Release readiness: the distribution `make dist` builds works alone and has one version.

The checks are those of `scripts/release.py` (what `make dist` runs), so a failure here
reads the same as a failure of `make dist`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts import release
from scripts.meltano_run import meltano_env
from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.tap import TapPagerDuty

NAMES = {cls.name for cls in STREAM_TYPES}


def test_sdist_and_wheel_install_alone_report_the_version_and_discover_every_stream(
    tmp_path,
) -> None:
    sdist, wheel = release.build(tmp_path / "dist")
    assert sdist.name == f"pagerduty_singer_tap-{release.version()}.tar.gz"
    release.check_wheel(wheel, NAMES)
    about, catalog = release.install_and_run(wheel, tmp_path / "venv")
    release.check_installed(about, catalog, NAMES)


def test_one_version_named_by_changelog_plugin_definition_and_about() -> None:
    release.check_sources()  # CHANGELOG.md's newest entry, meltano-plugin.yml's pip_url
    assert TapPagerDuty.plugin_version == release.version()
    assert TapPagerDuty.package_name == release.project()["name"] != "tap-pagerduty"
    assert release.project()["scripts"] == {"tap-pagerduty": "tap_pagerduty.cli:main"}


@pytest.mark.slow  # runs the Meltano CLI
def test_meltano_adds_the_plugin_from_its_definition_file(tmp_path) -> None:
    """`meltano add --from-ref meltano-plugin.yml` in a new project, without the Hub."""
    meltano = str(Path(sys.executable).with_name("meltano"))
    env = meltano_env(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    # The project file `meltano init project --no-usage-stats` writes, without its start-up
    # cost (a Meltano command costs seconds); `meltano add` makes the rest it needs.
    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text(
        yaml.safe_dump(
            {
                "default_environment": "dev",
                "project_id": "test-packaging",
                "environments": [{"name": "dev"}, {"name": "staging"}, {"name": "prod"}],
                "send_anonymous_usage_stats": False,
            },
            sort_keys=False,
        )
    )
    from_ref = ["--from-ref", str(release.PLUGIN_FILE)]
    add = subprocess.run(
        [meltano, "add", "--plugin-type", "extractor", "tap-pagerduty", "--no-install", *from_ref],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert add.returncode == 0, add.stderr[-2000:]
    added = yaml.safe_load((project / "meltano.yml").read_text())
    assert list(added["plugins"]) == ["extractors"]  # not also a utility, as `add extractor` does
    (tap,) = added["plugins"]["extractors"]
    assert tap["name"] == "tap-pagerduty"
    assert tap["pip_url"] == f"pagerduty-singer-tap=={release.version()}"
    listed = subprocess.run(
        [meltano, "config", "list", "tap-pagerduty", "--all"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "api_token" in listed.stdout and "requests_per_second" in listed.stdout


def test_plugin_definition_is_complete_against_about() -> None:
    """Every capability and every setting `--about` reports, the three ways to log in, and
    where the code and the docs are."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("tap-pagerduty")), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    reported = json.loads(done.stdout)
    plugin = yaml.safe_load(release.PLUGIN_FILE.read_text())
    assert plugin["capabilities"] == reported["capabilities"]
    assert {s["name"] for s in plugin["settings"]} == set(reported["settings"]["properties"])
    assert plugin["settings_group_validation"] == [
        ["api_token"],
        ["oauth_token"],
        ["oauth_client_id", "oauth_client_secret", "oauth_subdomain"],
    ]
    assert plugin["repo"] == release.repository_url()
    assert plugin["docs"].startswith(plugin["repo"])
    # The project's own meltano.yml declares the same capabilities.
    meltano = yaml.safe_load((release.ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in meltano["plugins"]["extractors"] if p["name"] == "tap-pagerduty"]
    assert tap["capabilities"] == reported["capabilities"]


def test_licence_text_is_apache_2() -> None:
    text = (release.ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert release.project()["license"] == {"text": "Apache-2.0"}
