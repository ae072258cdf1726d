"""The lifecycle table against a hand-written copy of seed 003 ("Device States and Actions").

The expected table below is written from the seed text (and platforms.md §2.1), NOT derived from
``lifecycle.TRANSITIONS``: every one of the 5 x 6 (state, action) pairs is checked.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cellfleet.sim import lifecycle as lc
from cellfleet.sim.lifecycle import (
    Action,
    DefaultReason,
    FeeEvent,
    IllegalTransition,
    State,
)

STATES = ["Initial", "Provisioned", "Active-Billed", "Suspended", "Cancelled"]
ACTIONS = ["provision", "reprovision", "activate", "suspend", "unsuspend", "cancel"]

# (state label, action key) -> (target label, fee when never Active-Billed, fee otherwise).
# Seed quotes:
#  Provision: "assigning new identification credentials to a device (in the Initial or Cancelled
#    state)"; "there may be a Provision fee".
#  Reprovision: "restores a device from the Cancelled state to the Provisioned state"; "the
#    Reactivation Fee is applied at the time of the reprovision action".
#  Activation: "moving a device from the Provisioned state to the Active-Billed state, or from the
#    Initial state to the Active-Billed state"; "if the device moves from the Initial or
#    Provisioned state for the first time, then a First Bill Activation Fee is applied. Otherwise,
#    a Reactivation Fee". Cancelled "remains ... until it moves to the Provisioned or Active-Billed
#    state (only by customer action)" -> Activate from Cancelled, a Reactivation fee.
#  Suspend: "from the Active-Billed state to the Suspended state"; Suspension fee.
#  Unsuspend: "from the Suspended state to the Active-Billed state"; Unsuspend fee.
#  Cancel: "from any current state except the Initial state, to the Cancelled state";
#    Deactivation fee.
EXPECTED = {
    ("Initial", "provision"): ("Provisioned", "provision_fee", "provision_fee"),
    ("Initial", "activate"): ("Active-Billed", "first_bill_activation_fee", "reactivation_fee"),
    ("Provisioned", "activate"): ("Active-Billed", "first_bill_activation_fee", "reactivation_fee"),
    ("Provisioned", "cancel"): ("Cancelled", "deactivation_fee", "deactivation_fee"),
    ("Active-Billed", "suspend"): ("Suspended", "suspension_fee", "suspension_fee"),
    ("Active-Billed", "cancel"): ("Cancelled", "deactivation_fee", "deactivation_fee"),
    ("Suspended", "unsuspend"): ("Active-Billed", "unsuspend_fee", "unsuspend_fee"),
    ("Suspended", "cancel"): ("Cancelled", "deactivation_fee", "deactivation_fee"),
    ("Cancelled", "provision"): ("Provisioned", "provision_fee", "provision_fee"),
    ("Cancelled", "reprovision"): ("Provisioned", "reactivation_fee", "reactivation_fee"),
    ("Cancelled", "activate"): ("Active-Billed", "reactivation_fee", "reactivation_fee"),
}

ALLOWED = {
    "Initial": ["provision", "activate"],
    "Provisioned": ["activate", "cancel"],
    "Active-Billed": ["suspend", "cancel"],
    "Suspended": ["unsuspend", "cancel"],
    "Cancelled": ["provision", "reprovision", "activate"],
}

STATE_BY_LABEL = {s.label: s for s in State}
ACTION_BY_KEY = {a.key: a for a in Action}
FEE_BY_KEY = {f.key: f for f in FeeEvent}

ALL_PAIRS = list(itertools.product(STATES, ACTIONS))


def test_enum_spellings():
    assert [s.label for s in State] == STATES
    assert [s.key for s in State] == ["initial", "provisioned", "active_billed", "suspended", "cancelled"]
    assert [a.key for a in Action] == ACTIONS
    assert {f.key for f in FeeEvent} == {
        "",
        "provision_fee",
        "first_bill_activation_fee",
        "reactivation_fee",
        "suspension_fee",
        "unsuspend_fee",
        "deactivation_fee",
    }
    assert FeeEvent.NONE.key == ""


def test_expected_table_is_complete_over_all_pairs():
    assert len(ALL_PAIRS) == 30
    assert {k for k in EXPECTED} <= set(ALL_PAIRS)
    assert sum(len(v) for v in ALLOWED.values()) == len(EXPECTED)
    for (state, action) in EXPECTED:
        assert action in ALLOWED[state]


@pytest.mark.parametrize(("state_label", "action_key"), ALL_PAIRS)
def test_transition(state_label: str, action_key: str):
    state, action = STATE_BY_LABEL[state_label], ACTION_BY_KEY[action_key]
    expected = EXPECTED.get((state_label, action_key))
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            lc.transition(state, action)
        err = info.value
        assert isinstance(err, ValueError)
        assert err.state == state and err.action == action
        message = str(err)
        assert f"'{action_key}'" in message
        assert state_label in message
        allowed = ", ".join(ALLOWED[state_label]) or "none"
        assert message == f"action '{action_key}' is not allowed in state {state_label} (allowed: {allowed})"
        assert lc.NEXT_STATE[state, action] == -1
        assert lc.FEE_FIRST[state, action] == FeeEvent.NONE
        assert lc.FEE_AGAIN[state, action] == FeeEvent.NONE
        return
    target, fee_first, fee_again = expected
    t = lc.transition(state, action)
    assert t.source == state and t.action == action
    assert t.target.label == target
    assert FeeEvent(t.fee_first).key == fee_first
    assert FeeEvent(t.fee_again).key == fee_again
    # compiled arrays
    assert lc.NEXT_STATE[state, action] == STATE_BY_LABEL[target]
    assert lc.FEE_FIRST[state, action] == FEE_BY_KEY[fee_first]
    assert lc.FEE_AGAIN[state, action] == FEE_BY_KEY[fee_again]


@pytest.mark.parametrize("state_label", STATES)
def test_allowed_actions(state_label: str):
    assert [a.key for a in lc.allowed_actions(STATE_BY_LABEL[state_label])] == ALLOWED[state_label]


def test_arrays_consistent_with_transitions():
    assert lc.NEXT_STATE.shape == (5, 6)
    assert lc.FEE_FIRST.shape == (5, 6)
    assert lc.FEE_AGAIN.shape == (5, 6)
    seen = set()
    for t in lc.TRANSITIONS:
        key = (int(t.source), int(t.action))
        assert key not in seen, f"duplicate row {t}"
        seen.add(key)
        assert lc.NEXT_STATE[key] == t.target
        assert lc.FEE_FIRST[key] == t.fee_first
        assert lc.FEE_AGAIN[key] == t.fee_again
    legal = {(int(s), int(a)) for s in State for a in Action if lc.NEXT_STATE[s, a] >= 0}
    assert legal == seen
    assert len(lc.TRANSITIONS) == len(EXPECTED)
    for arr in (lc.NEXT_STATE, lc.FEE_FIRST, lc.FEE_AGAIN):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0, 0] = 1


def test_no_self_loops_and_initial_unreachable():
    targets = lc.NEXT_STATE[lc.NEXT_STATE >= 0]
    assert State.INITIAL not in set(targets.tolist())
    for s in State:
        assert not np.any(lc.NEXT_STATE[s] == s)


def test_traffic_and_test_states():
    assert {s.label for s in lc.TRAFFIC_STATES} == {"Provisioned", "Active-Billed", "Suspended"}
    assert {s.label for s in lc.TEST_ALLOWANCE_STATES} == {"Provisioned", "Suspended"}
    # defaulting: Activate out of Provisioned, Unsuspend out of Suspended, both legal moves to
    # Active-Billed
    assert lc.DEFAULTING_ACTION == {State.PROVISIONED: Action.ACTIVATE, State.SUSPENDED: Action.UNSUSPEND}
    for s, a in lc.DEFAULTING_ACTION.items():
        assert lc.transition(s, a).target == State.ACTIVE_BILLED


@pytest.mark.parametrize(
    ("state", "reason", "key"),
    [
        (State.PROVISIONED, DefaultReason.DATA, "provisioned_data_allowance_exceeded"),
        (State.PROVISIONED, DefaultReason.SMS, "provisioned_sms_allowance_exceeded"),
        (State.PROVISIONED, DefaultReason.DAYS, "provisioned_days_allowance_exceeded"),
        (State.SUSPENDED, DefaultReason.DATA, "suspended_data_allowance_exceeded"),
        (State.SUSPENDED, DefaultReason.SMS, "suspended_sms_allowance_exceeded"),
        (State.SUSPENDED, DefaultReason.DAYS, "suspended_days_allowance_exceeded"),
        (State.PROVISIONED, DefaultReason.NONE, ""),
        (State.SUSPENDED, DefaultReason.NONE, ""),
    ],
)
def test_default_reason_key(state, reason, key):
    assert lc.default_reason_key(state, reason) == key
