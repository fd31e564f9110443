"""Command-line entry point: the SDK's CLI, with user mistakes reported in one line.

A wrong setting or a refused request (bad token, missing permission) is the user's to fix,
so it ends the run with one clear line on stderr and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import os
import sys

import click
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_pagerduty.client import PagerDutyAPIError
from tap_pagerduty.settings import SettingsError
from tap_pagerduty.tap import TapPagerDuty


def main(argv: list[str] | None = None) -> None:
    args = _take_log_level(list(sys.argv[1:] if argv is None else argv))
    try:
        code = TapPagerDuty.cli.main(args=args, prog_name="tap-pagerduty", standalone_mode=False)
    except SettingsError as error:
        _fail(f"configuration error: {error}", 2)
    except PagerDutyAPIError as error:
        _fail(str(error), 1)
    except (RetriableAPIError, requests.RequestException) as error:
        first_line = (str(error) or type(error).__name__).splitlines()[0][:500]
        _fail(f"gave up after 'max_retries' retries: {first_line}", 1)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _take_log_level(args: list[str]) -> list[str]:
    """Accept `--log-level LEVEL` (as Meltano does) and hand it to the SDK's logger."""
    rest: list[str] = []
    level = None
    iterator = iter(args)
    for arg in iterator:
        if arg == "--log-level":
            level = next(iterator, None)
        elif arg.startswith("--log-level="):
            level = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if level:
        os.environ["TAP_PAGERDUTY_LOGLEVEL"] = level.upper()
    return rest


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"tap-pagerduty: {message}\n")
    sys.stderr.flush()
    sys.exit(code)
