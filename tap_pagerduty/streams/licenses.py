"""Licenses and which user holds which (seat audits). Both need the `licenses.read` scope;
accounts without license management answer 402/403 and the streams are skipped."""

from __future__ import annotations

import typing as t

from tap_pagerduty.streams.base import ListStream, Records
from tap_pagerduty.streams.single_page import SinglePageList

if t.TYPE_CHECKING:
    from collections.abc import Iterator


class LicensesStream(SinglePageList):
    name = "licenses"
    optional = True
    path = "/licenses"


class LicenseAllocationsStream(ListStream):
    """Allocations have no id: the key is the user and the license."""

    name = "license_allocations"
    optional = True
    path = "/license_allocations"
    primary_keys = ("user_id", "license_id")
    counts_total = False

    def pages(self) -> Iterator[Records]:
        for page in super().pages():
            yield [
                {
                    **allocation,
                    "user_id": (allocation.get("user") or {}).get("id"),
                    "license_id": (allocation.get("license") or {}).get("id"),
                }
                for allocation in page
            ]
