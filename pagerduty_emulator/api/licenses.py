"""Licenses and their allocations to users."""

from __future__ import annotations

import typing as t

from ..data import DAY, iso
from ..http import Query
from ..render import API, WEB, dumpb
from .extras_base import ExtrasBase, stable_draw

LICENSES = [  # (name, role group, valid roles, allocations available)
    ("Full User", "FullUser", ["owner", "admin", "user", "limited_user"], 50),
    ("Stakeholder", "Stakeholder", ["observer", "read_only_user"], None),
    ("Full User — AIOps", "FullUser", ["owner", "admin", "user"], 10),
]


class Licenses(ExtrasBase):
    """A part of `Extras` (see the module's docstring)."""

    def _build_licenses(self) -> None:
        self.licenses: list[dict[str, t.Any]] = [
            {"id": self.nid(), "name": name, "group": group, "roles": roles, "available": avail}
            for name, group, roles, avail in LICENSES
        ]
        w = self.world
        self.allocations = []
        for i, user in enumerate(w.users):
            k = 1 if user["role"] == "observer" else (2 if i % 9 == 4 else 0)
            at = w.now - w.days * DAY - (1 + stable_draw(self.seed, "lic", user["id"]) % 300) * DAY
            self.allocations.append((i, k, at))

    def render_license(self, k: int) -> dict:
        lic = self.licenses[k]
        used = sum(1 for _, j, _ in self.allocations if j == k)
        return {
            "id": lic["id"],
            "type": "license",
            "name": lic["name"],
            "summary": lic["name"],
            "description": f"{lic['name']} seats",
            "valid_roles": lic["roles"],
            "role_group": lic["group"],
            "self": f"{API}/licenses/{lic['id']}",
            "html_url": f"{WEB}/account/licenses/{lic['id']}",
            "current_value": used,
            "allocations_available": None if lic["available"] is None else lic["available"] - used,
        }

    def render_allocation(self, allocation: tuple) -> dict:
        user, k, at = allocation
        lic = self.render_license(k)
        del lic["current_value"], lic["allocations_available"]
        return {
            "user": self.emu.r.user_ref[user],
            "license": lic,
            "allocated_at": iso(at),
        }

    def h_licenses(self, q: Query):
        return 200, dumpb({"licenses": [self.render_license(k) for k in range(len(self.licenses))]})

    def h_allocations(self, q: Query):
        rows = [dumpb(self.render_allocation(a)) for a in self.allocations]
        return self.emu._classic(q, "license_allocations", rows, lambda b: b)
