"""Dagster orchestration for tap-pagerduty: many accounts, parallel backfills, key budgets.

Install with the `orchestration` extra (`pip install -e ".[orchestration]"`); the tap itself
does not need it. Definitions: `orchestration.definitions`."""
