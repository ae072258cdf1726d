"""Device selection for operator actions: filter columns, then draw a fraction or a count."""

from __future__ import annotations

import numpy as np

from cellfleet.sim.lifecycle import State


def select_devices(
    selector,
    rng: np.random.Generator,
    *,
    group: np.ndarray,
    state: np.ndarray,
    account: np.ndarray,
    report_group: np.ndarray,
    group_names: list[str],
    accounts: list[str],
    report_groups: list[str],
) -> np.ndarray:
    """Sorted device rows matched by a scenario ``Selector``.

    Filters (group, state, account, report group) combine with AND; then ``fraction`` keeps
    ``round(fraction * matches)`` of the matches and ``count`` keeps ``min(count, matches)``, both
    drawn without replacement from ``rng``; with neither, every match is selected.
    """
    mask = np.ones(group.shape[0], dtype=np.bool_)
    wanted = selector.group_names()
    if wanted is not None:
        mask &= np.isin(group, [group_names.index(g) for g in wanted])
    if selector.state is not None:
        mask &= state == State[selector.state.upper()]
    if selector.account is not None:
        mask &= account == (accounts.index(selector.account) if selector.account in accounts else -1)
    if selector.report_group is not None:
        code = report_groups.index(selector.report_group) if selector.report_group in report_groups else -1
        mask &= report_group == code
    rows = np.flatnonzero(mask).astype(np.int64)
    if selector.fraction is not None:
        keep = int(np.floor(selector.fraction * rows.size + 0.5))
    elif selector.count is not None:
        keep = min(selector.count, rows.size)
    else:
        return rows
    if keep >= rows.size:
        return rows
    return np.sort(rng.choice(rows, size=keep, replace=False))
