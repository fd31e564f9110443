"""No header value (token, bearer, custom user agent) is ever printed, on any error path,
at the most talkative log level, tracebacks included."""

from __future__ import annotations

import json
import re
import typing as t

import pytest
import requests
import requests_mock

from tap_pagerduty.cli import main
from tests.support.cli import run_cli

TOKEN = "tok-9f8e7d6c5b4a-secret"
AGENT = "acme-agent-secret-77"


def _cli_with_failing_transport(args: list[str]) -> None:
    """The CLI with the HTTP transport replaced by one that fails in the way `args[0]` names,
    quoting the request's headers in its message as real libraries do (run in a child process
    by `run_cli`)."""
    kind, *cli_args = args

    def fail(request: t.Any, context: t.Any) -> None:
        auth, agent = request.headers["Authorization"], request.headers["User-Agent"]
        if kind == "invalid_header":
            raise requests.exceptions.InvalidHeader(f"Invalid header value {auth!r}")
        if kind == "encoding":
            raise UnicodeEncodeError("latin-1", auth, 0, 1, f"cannot encode {agent}")
        if kind == "connection":
            raise requests.exceptions.ConnectionError(f"proxy dropped {auth} from {agent}")
        raise RuntimeError(f"unexpected failure with {auth} and {agent}")

    with requests_mock.Mocker() as mock:
        mock.get(re.compile("https://pd[.]test/.*"), json=fail)
        main(cli_args)


@pytest.mark.parametrize(
    ("credential", "kind"),
    [
        ("api_token", "invalid_header"),
        ("api_token", "encoding"),
        ("api_token", "connection"),
        ("api_token", "bug"),
        ("oauth_token", "invalid_header"),
    ],
)
def test_header_values_never_reach_stdout_or_stderr(tmp_path, kind: str, credential: str) -> None:
    config = {
        credential: TOKEN,
        "api_url": "https://pd.test",
        "user_agent": AGENT,
        "max_retries": 1,
        "anchor_date": "2026-01-01",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = [kind, "--config", str(tmp_path / "config.json"), "--log-level", "debug"]
    run = run_cli(args, timeout=120, entry=_cli_with_failing_transport)
    assert run.returncode != 0
    assert "DEBUG" in run.stderr  # debug logging was really on
    output = run.stdout + run.stderr
    assert TOKEN not in output and AGENT not in output, output[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-pagerduty:") and "***" in last, last
    if kind != "bug":  # a bug's line names the error; its (masked) traceback says where
        assert "/users" in last, last
    else:
        assert "Traceback" in run.stderr


def test_log_records_and_tracebacks_are_masked() -> None:
    import io
    import logging

    from tap_pagerduty import redact

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact.register([f"Token token={TOKEN}", TOKEN, "short"])
        logger = logging.getLogger("tap-pagerduty.test-secrets")
        logger.warning("header %s sent", f"Token token={TOKEN}")
        try:
            raise ValueError(f"Invalid header value {TOKEN!r}")
        except ValueError:
            logger.exception("request failed")
        logger.warning("a short value is not a token: short")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text and "header *** sent" in text
    assert "ValueError: Invalid header value '***'" in text  # the traceback, masked
    assert "not a token: short" in text  # values under 6 characters are left alone
