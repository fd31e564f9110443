"""Command-line entry point: the SDK's CLI, with user mistakes reported in one line.

A wrong setting, an unusable state file, a refused request (bad token, missing permission)
or a server that cannot be reached is the user's to fix, so it ends the run with one clear
line on stderr, the last one, and a non-zero exit, not a traceback. No line ever holds a
header value (token, user agent): every message goes through `redact.scrub`.
"""

from __future__ import annotations

import itertools
import os
import sys

import click

from tap_pagerduty import redact
from tap_pagerduty.errors import PagerDutyAPIError
from tap_pagerduty.settings import SettingsError, check_config_file
from tap_pagerduty.state import StateError
from tap_pagerduty.tap import TapPagerDuty


def main(argv: list[str] | None = None) -> None:
    args = _take_log_level(list(sys.argv[1:] if argv is None else argv))
    try:
        for path in _config_files(args):
            check_config_file(path)
        code = TapPagerDuty.cli.main(args=args, prog_name="tap-pagerduty", standalone_mode=False)
    except SettingsError as error:
        _fail(f"configuration error: {error}{_environment_hint(str(error), args)}", 2)
    except StateError as error:
        _fail(f"state error: {error}", 2)
    except PagerDutyAPIError as error:  # refused, unreachable, or out of retries
        _fail(str(error), 1)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except Exception as error:  # a bug: its traceback helps, but masked like every line
        sys.stderr.write(redact.format_traceback(error))
        _fail(f"unexpected error: {type(error).__name__}: {redact.describe(error)}", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _config_files(args: list[str]) -> list[str]:
    """The paths given to `--config` (`ENV` reads the environment instead)."""
    paths = [value for flag, value in itertools.pairwise(args) if flag == "--config"]
    paths += [arg.split("=", 1)[1] for arg in args if arg.startswith("--config=")]
    return [path for path in paths if path != "ENV"]


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


#: Variables that hold a credential; set while the tap reads a config file (or none), they
#: were ignored: the SDK reads TAP_PAGERDUTY_* only with `--config ENV`.
CREDENTIAL_VARIABLES = (
    "TAP_PAGERDUTY_API_TOKEN",
    "TAP_PAGERDUTY_OAUTH_TOKEN",
    "TAP_PAGERDUTY_OAUTH_CLIENT_ID",
)


def _environment_hint(message: str, args: list[str]) -> str:
    """For a missing setting: say that credential variables were set but not read."""
    if "is missing" not in message or _reads_environment(args):
        return ""
    ignored = [name for name in CREDENTIAL_VARIABLES if os.environ.get(name)]
    if not ignored:
        return ""
    return (
        f" ({', '.join(ignored)} is set but not read: use --config ENV to read settings "
        "from TAP_PAGERDUTY_* variables)"
    )


def _reads_environment(args: list[str]) -> bool:
    pairs = itertools.pairwise(args)
    return "--config=ENV" in args or ("--config", "ENV") in pairs


def _fail(message: str, code: int) -> None:
    line = " ".join(redact.scrub(message).split())
    sys.stderr.write(f"tap-pagerduty: {line}\n")
    sys.stderr.flush()
    sys.exit(code)
