"""Where the stream schemas are read from.

The JSON schemas live in the repository's top-level `schemas/` folder; the wheel ships
them inside the package as `tap_pagerduty/schemas/`. An editable install reads them from
the repository.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def schema_dir() -> Traversable:
    packaged = resources.files("tap_pagerduty").joinpath("schemas")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"
