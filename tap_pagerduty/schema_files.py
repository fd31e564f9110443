"""Where the stream schemas are read from, and the column that keeps unlisted fields.

The JSON schemas live in the repository's top-level `schemas/` folder; the wheel ships
them inside the package as `tap_pagerduty/schemas/`. An editable install reads them from
the repository. With `unknown_fields: keep` (the default) every stream's schema also has
`_extra`: a JSON object holding what PagerDuty sent that the schema does not list.
"""

from __future__ import annotations

import typing as t
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from singer_sdk import StreamSchema

#: The column holding the fields a stream's schema does not list.
EXTRA_COLUMN = "_extra"
EXTRA_SCHEMA: dict[str, t.Any] = {"type": ["object", "null"]}


class StreamSchemaWithExtra(StreamSchema):
    """The stream's schema file, plus the `_extra` column when the run keeps unlisted
    fields. Built once per stream (the record conformer is compiled per schema object)."""

    def get_stream_schema(self, stream: t.Any, stream_class: t.Any) -> dict[str, t.Any]:
        schema: dict[str, t.Any] = super().get_stream_schema(stream, stream_class)
        if stream is None or not stream.keeps_unknown_fields():
            return schema
        cached = stream.__dict__.get("_schema_with_extra")
        if cached is None or cached[0] is not schema:
            properties = {**schema.get("properties", {}), EXTRA_COLUMN: EXTRA_SCHEMA}
            cached = stream.__dict__["_schema_with_extra"] = (
                schema,
                {**schema, "properties": properties},
            )
        return t.cast("dict[str, t.Any]", cached[1])


def schema_dir() -> Traversable:
    packaged = resources.files("tap_pagerduty").joinpath("schemas")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"
