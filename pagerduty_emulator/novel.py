"""Fields real PagerDuty accounts send that its OpenAPI spec does not document.

With `Emulator(novel_fields=True)`, listings carry the undocumented fields seen on real
accounts (issue 23): `billed` on users and `send_html_email` on their contact methods,
`parent` on teams, `integration_key` on services' integrations. No schema of the tap lists
them, so they show whether a sync keeps what it does not know. Ground truth
(`Emulator.truth`) stays the documented shape.
"""

from __future__ import annotations

import json

from .render import dumpb

LISTINGS = {"/users": "users", "/teams": "teams", "/services": "services"}


def add_novel_fields(path: str, payload: bytes) -> bytes:
    """`payload` (an answer to `path`) with the undocumented fields added."""
    key = LISTINGS.get(path)
    if key is None:
        return payload
    body = json.loads(payload)
    for record in body.get(key) or []:
        if key == "users":
            record["billed"] = True
            for method in record.get("contact_methods") or []:
                if method.get("type") == "email_contact_method":
                    method["send_html_email"] = False
        elif key == "teams":
            record["parent"] = None
        else:
            for integration in record.get("integrations") or []:
                integration["integration_key"] = f"key-{integration['id'].lower()}"
    return dumpb(body)
