"""What every part of `Renderer` shares: the JSON encoder, references, the world's rendered refs."""

from __future__ import annotations

import msgspec

from ..data import World

API = "https://api.pagerduty.com"
WEB = "https://emulator.pagerduty.com"

# msgspec, not the json module: the emulator encodes every record it serves, and the tests' own
# CPU is what bounds `make check` (compact UTF-8 JSON either way, keys in insertion order).
dumpb = msgspec.json.Encoder().encode


def dumps(obj) -> str:
    return dumpb(obj).decode("utf-8")


NOTIF_TYPE = {
    "email_contact_method": "email_notification",
    "phone_contact_method": "phone_notification",
    "sms_contact_method": "sms_notification",
    "push_notification_contact_method": "push_notification",
}
LE_SUMMARY_CHANNEL = {
    "api": "Triggered through the API.",
    "email": "Triggered through an e-mail.",
    "web_trigger": "Triggered through the website.",
}


def ref(rtype: str, plural: str, rid: str, summary: str | None, web: str | None = None) -> dict:
    return {
        "id": rid,
        "type": rtype + "_reference",
        "summary": summary,
        "self": f"{API}/{plural}/{rid}",
        "html_url": f"{WEB}/{web or plural}/{rid}",
    }


class RenderBase:
    """Set by `Renderer.__init__`: the world and the references every record uses."""

    w: World
    user_ref: list[dict]
    team_ref: list[dict]
    svc_ref: list[dict]
    ep_ref: list[dict]
    sched_ref: list[dict]
    integ_ref: list[dict]
    vendor_ref: list[dict]
    priority: list[dict]
    le_cache: dict[int, tuple[bytes, int]]  # prefix, incident index
    _cfg_version: int
    _cfg: dict[str, list[bytes]]
