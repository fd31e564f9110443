"""Small things a new user meets in the first hour: the `--about` markdown, a token variable the
tap did not read, a host that does not resolve, a value Meltano would refuse with a traceback."""

from __future__ import annotations

import logging
import os
import socket
import typing as t
from pathlib import Path

import pytest
import requests
import requests_mock
import yaml

from tap_pagerduty import cli
from tap_pagerduty.engine import Engine
from tap_pagerduty.errors import RequestFailedError
from tap_pagerduty.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SECRET = "first-hour-secret-token"


def run_tap(capsys, monkeypatch, *args: str, env: dict[str, str] | None = None):
    """The command line in this process (a subprocess costs seconds on a busy machine):
    (exit code, stdout, stderr)."""
    for name in [k for k in os.environ if k.startswith("TAP_PAGERDUTY_")]:
        monkeypatch.delenv(name)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_about_markdown_starts_with_a_heading(capsys, monkeypatch) -> None:
    """The title was indented by 8 spaces, which Markdown renders as a code block."""
    code, out, err = run_tap(capsys, monkeypatch, "--about", "--format=markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "# `tap-pagerduty`"
    assert not [line for line in lines if line.startswith("    ") and line.strip()]


def test_a_token_variable_without_config_env_says_use_config_env(capsys, monkeypatch) -> None:
    code, out, err = run_tap(capsys, monkeypatch, env={"TAP_PAGERDUTY_API_TOKEN": SECRET})
    last = err.strip().splitlines()[-1]
    assert code == 2
    assert "'api_token' is missing" in last and "use --config ENV" in last, last
    assert "TAP_PAGERDUTY_API_TOKEN is set" in last
    assert SECRET not in err + out
    # Without such a variable, the line does not point there.
    _, _, plain = run_tap(capsys, monkeypatch)
    assert "'api_token' is missing" in plain and "--config ENV" not in plain


class Caller:
    name = "users"
    path = "/users"
    extra_params: t.ClassVar[dict[str, t.Any]] = {}
    selected = True
    parent_stream_type = None


def test_a_host_that_does_not_resolve_is_named_and_tried_twice() -> None:
    """`region: eu` without network retried a DNS failure 8 times over 1 min 37 s and never
    named the host."""
    settings = Settings.from_config({"api_token": SECRET, "region": "eu", "max_retries": 8})
    engine = Engine(settings, logging.getLogger("test-first-hour"), streams=dict)
    unresolved = requests.exceptions.ConnectionError(
        socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    )
    with requests_mock.Mocker() as mock:
        mock.get("https://api.eu.pagerduty.com/users", exc=unresolved)
        with pytest.raises(RequestFailedError) as failed:
            engine.fetch(t.cast("t.Any", Caller()), "/users")
    message = str(failed.value)
    assert mock.call_count == 2
    assert "api.eu.pagerduty.com could not be resolved (2 tries" in message, message
    assert "\n" not in message and SECRET not in message


def test_no_setting_has_a_kind_meltano_ends_in_a_traceback_for(capsys, monkeypatch) -> None:
    """Meltano 4.4.1 refuses a value outside an `options` setting's list (`region: EU`) and
    then fails in its own cleanup with a traceback. As `string`, the value reaches the tap,
    which refuses it in one line naming the allowed values."""
    meltano = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in meltano["plugins"]["extractors"] if p["name"] == "tap-pagerduty"]
    plugin = yaml.safe_load((ROOT / "meltano-plugin.yml").read_text())
    for settings in (tap["settings"], plugin["settings"]):
        assert [s["name"] for s in settings if s.get("kind") == "options"] == []
    env = {"TAP_PAGERDUTY_API_TOKEN": SECRET, "TAP_PAGERDUTY_REGION": "EU"}
    code, _, err = run_tap(capsys, monkeypatch, "--config", "ENV", env=env)
    last = err.strip().splitlines()[-1]
    assert code == 2 and "'region' is 'EU': use 'us' or 'eu'" in last, last
