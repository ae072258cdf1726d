"""Run set-up tables the engine derives from the scenario once: test allowances per rate plan and
state, and which devices get per-exchange records."""

from __future__ import annotations

import numpy as np

from cellfleet.sim.lifecycle import State
from cellfleet.sim.rand import stream


def allowance_tables(plans) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(limit_bytes, limit_sms, days)`` indexed ``[plan, state]`` (-1 / NaN: no limit) from the
    plans' Provisioned and Suspended test allowances (seed 003)."""
    limit_bytes = np.full((len(plans), len(State)), -1, np.int64)
    limit_sms = np.full((len(plans), len(State)), -1, np.int64)
    days = np.full((len(plans), len(State)), np.nan)
    for p, plan in enumerate(plans):
        for state, allowance in (
            (State.PROVISIONED, plan.provisioned_allowance),
            (State.SUSPENDED, plan.suspended_allowance),
        ):
            if allowance is None:
                continue
            if allowance.data_bytes is not None:
                limit_bytes[p, state] = allowance.data_bytes
            if allowance.sms_count is not None:
                limit_sms[p, state] = allowance.sms_count
            if allowance.days is not None:
                days[p, state] = allowance.days
    return limit_bytes, limit_sms, days


def session_sample(scenario, n: int) -> np.ndarray:
    """Which of the ``n`` devices get one record per session and registration
    (``outputs.sessions``)."""
    cfg = scenario.outputs.sessions
    flag = np.zeros(n, dtype=np.bool_)
    mode = cfg.mode
    if mode == "auto":
        mode = "all" if n <= cfg.all_max_devices else "sample"
    if mode == "all":
        flag[:] = True
    elif mode == "sample":
        k = min(cfg.sample_devices, n)
        flag[stream(scenario.seed, "outputs/sessions-sample").choice(n, size=k, replace=False)] = True
    return flag
