"""Which streams an account may lack, and which answers say that it lacks them.

PagerDuty accounts differ in the products and plan features they have, tokens differ in
their scopes, and PagerDuty retires endpoints (Rulesets and Event Rules reached end of life
on 2025-01-31). A stream whose class says `optional = True` (where it is declared, in
`tap_pagerduty/streams/`) is skipped with one warning line when its first request is refused
with one of `UNAVAILABLE_STATUSES`, and the sync goes on.
Every other stream is a core stream: any refusal fails the run, because a core stream that
cannot be read is a token or configuration mistake the user must see.
"""

from __future__ import annotations

# Answers meaning "this account cannot have this stream": 402 plan feature missing, 403 token
# scope or permission missing, 404 endpoint unknown to this account, 410 endpoint retired.
UNAVAILABLE_STATUSES = frozenset({402, 403, 404, 410})
