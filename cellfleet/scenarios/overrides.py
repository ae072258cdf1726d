"""Command-line overrides of a scenario: ``--seed``, ``--days``, ``--devices``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from cellfleet.scenarios.base import show_value
from cellfleet.scenarios.errors import (
    ScenarioError,
    ScenarioIssue,
    translate_validation_error,
)
from cellfleet.scenarios.schema import Scenario

# --------------------------------------------------------------------------------------------
# Overrides


def _override_int(flag: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        message = f"must be an integer, got {show_value(value)}"
        raise ScenarioError([ScenarioIssue("", None, flag, message)])
    if value < minimum:
        what = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ScenarioError([ScenarioIssue("", None, flag, f"must be {what}, got {value}")])
    return value


def rescale_counts(counts: Sequence[int], total: int) -> list[int]:
    """Scale ``counts`` proportionally to sum to exactly ``total`` (largest remainder).

    Each share is ``count * total / sum(counts)``; everyone gets the floor, the rest goes to
    the largest remainders (ties to the earlier group). Groups whose share is below one still
    get one device, taken back from the groups most over their share (ties: later group first).
    Needs ``total >= len(counts)``.
    """
    old = sum(counts)
    if total < len(counts):
        raise ValueError(f"cannot give {len(counts)} groups at least one device out of {total}")
    # Exact integer arithmetic: share_i = counts[i] * total / old.
    seats = [max(1, c * total // old) for c in counts]

    def surplus(i: int) -> int:  # (share - seats) * old, exact
        return counts[i] * total - seats[i] * old

    diff = total - sum(seats)
    while diff > 0:
        for i in sorted(range(len(counts)), key=lambda i: (-surplus(i), i))[:diff]:
            seats[i] += 1
            diff -= 1
    while diff < 0:
        donors = [i for i in range(len(counts)) if seats[i] > 1]
        i = min(donors, key=lambda i: (surplus(i), -i))
        seats[i] -= 1
        diff += 1
    return seats


def apply_overrides(
    scenario: Scenario,
    *,
    seed: int | None = None,
    devices: int | None = None,
    days: int | None = None,
) -> Scenario:
    """A copy of ``scenario`` with command-line overrides applied, validated again.

    - ``seed`` replaces the seed.
    - ``days`` replaces ``duration_days``; occurrences of actions that now fall on or after the
      end are dropped (an action with none left is removed, a repeat keeps its remaining
      ``times``).
    - ``devices`` rescales the group counts to sum to exactly ``devices`` (see
      :func:`rescale_counts`) and scales every ``select.count`` by ``devices / total_devices``
      (rounded half up, at least 1).

    Bad values raise :class:`ScenarioError` with paths ``--seed``, ``--devices``, ``--days``.
    """
    data = scenario.model_dump()
    if seed is not None:
        data["seed"] = _override_int("--seed", seed, 0)
    if days is not None:
        data["duration_days"] = _override_int("--days", days, 1)
        kept = []
        for action in scenario.actions:
            remaining = [d for d in action.occurrence_days() if d < days]
            if not remaining:
                continue
            entry = action.model_dump()
            if action.repeat is not None:
                entry["repeat"]["times"] = len(remaining)
            kept.append(entry)
        data["actions"] = kept
    if devices is not None:
        devices = _override_int("--devices", devices, 1)
        groups = len(scenario.fleet)
        if devices < groups:
            raise ScenarioError(
                [
                    ScenarioIssue(
                        "",
                        None,
                        "--devices",
                        f"must be at least the number of fleet groups ({groups}), got {devices}",
                    )
                ]
            )
        old = scenario.total_devices
        counts = rescale_counts([g.count for g in scenario.fleet], devices)
        for group, count in zip(data["fleet"], counts, strict=True):
            group["count"] = count
        for action in data["actions"]:
            count = action["select"]["count"]
            if count is not None:
                action["select"]["count"] = max(1, (2 * count * devices + old) // (2 * old))
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(translate_validation_error(exc, "", None)) from None
