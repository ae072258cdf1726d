"""The SIM lifecycle: states, actions, fee events and the one transition table.

Source: seed ``003_2b3d5ab1742d86ff.txt`` ("Device States and Actions"), summarised in
``shared/reference/platforms.md`` §2.1. Every legal move is one row of :data:`TRANSITIONS`;
anything not in the table is illegal and is rejected with an error naming state and action.

The engine works on integer codes (``np.int8`` columns), so states, actions and fee events are
``IntEnum``s and the table is also compiled to lookup arrays (:data:`NEXT_STATE`,
:data:`FEE_FIRST`, :data:`FEE_AGAIN`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class State(IntEnum):
    """Device (SIM) states of the seed document."""

    INITIAL = 0
    PROVISIONED = 1
    ACTIVE_BILLED = 2
    SUSPENDED = 3
    CANCELLED = 4

    @property
    def label(self) -> str:
        """The seed's spelling, e.g. ``Active-Billed``."""
        return STATE_LABELS[self]

    @property
    def key(self) -> str:
        """The scenario-file spelling, e.g. ``active_billed``."""
        return self.name.lower()


STATE_LABELS = {
    State.INITIAL: "Initial",
    State.PROVISIONED: "Provisioned",
    State.ACTIVE_BILLED: "Active-Billed",
    State.SUSPENDED: "Suspended",
    State.CANCELLED: "Cancelled",
}

#: States in which a device is live on the network and passes packet traffic (seed: Provisioned,
#: Active-Billed and Suspended devices are "live"; Initial is not yet provisioned and a Cancelled
#: device "cannot communicate, or receive any communication").
TRAFFIC_STATES = (State.PROVISIONED, State.ACTIVE_BILLED, State.SUSPENDED)

#: States with a test allowance whose exceeding moves the SIM to Active-Billed ("defaulting").
TEST_ALLOWANCE_STATES = (State.PROVISIONED, State.SUSPENDED)


class Action(IntEnum):
    """Actions of the seed document that move a device between states."""

    PROVISION = 0
    REPROVISION = 1
    ACTIVATE = 2
    SUSPEND = 3
    UNSUSPEND = 4
    CANCEL = 5

    @property
    def key(self) -> str:
        return self.name.lower()


class FeeEvent(IntEnum):
    """One-time fee events named by the seed, recorded at the action for the rating engine."""

    NONE = 0
    PROVISION = 1
    FIRST_BILL_ACTIVATION = 2
    REACTIVATION = 3
    SUSPENSION = 4
    UNSUSPEND = 5
    DEACTIVATION = 6

    @property
    def key(self) -> str:
        """The record spelling, e.g. ``first_bill_activation_fee`` (empty for no fee)."""
        return "" if self is FeeEvent.NONE else f"{self.name.lower()}_fee"


class IllegalTransition(ValueError):
    """An action that the lifecycle does not allow from the device's current state."""

    def __init__(self, state: State, action: Action) -> None:
        allowed = ", ".join(a.key for a in allowed_actions(state)) or "none"
        super().__init__(
            f"action '{action.key}' is not allowed in state {state.label} (allowed: {allowed})"
        )
        self.state = state
        self.action = action


@dataclass(frozen=True)
class Transition:
    """One legal move.

    ``fee_first`` is the fee event when the device has never been in Active-Billed,
    ``fee_again`` when it has; they differ only for Activate from Initial/Provisioned, where the
    seed applies "a First Bill Activation Fee ... if the device moves from the Initial or
    Provisioned state for the first time ... Otherwise, a Reactivation Fee".
    """

    source: State
    action: Action
    target: State
    fee_first: FeeEvent
    fee_again: FeeEvent


_S, _A, _F = State, Action, FeeEvent

#: The one transition table (seed 003, "Device States and Actions"; platforms.md §2.1).
TRANSITIONS: tuple[Transition, ...] = (
    # Provision: "assigning new identification credentials to a device (in the Initial or
    # Cancelled state)"; "there may be a Provision fee".
    Transition(_S.INITIAL, _A.PROVISION, _S.PROVISIONED, _F.PROVISION, _F.PROVISION),
    Transition(_S.CANCELLED, _A.PROVISION, _S.PROVISIONED, _F.PROVISION, _F.PROVISION),
    # Reprovision: "restores a device from the Cancelled state to the Provisioned state";
    # "the Reactivation Fee is applied at the time of the reprovision action".
    Transition(_S.CANCELLED, _A.REPROVISION, _S.PROVISIONED, _F.REACTIVATION, _F.REACTIVATION),
    # Activation: "from the Provisioned state ... or from the Initial state to the Active-Billed
    # state"; Cancelled devices move "to the Provisioned or Active-Billed state" by customer action,
    # which is not a first activation, hence a Reactivation fee.
    Transition(_S.INITIAL, _A.ACTIVATE, _S.ACTIVE_BILLED, _F.FIRST_BILL_ACTIVATION, _F.REACTIVATION),
    Transition(
        _S.PROVISIONED, _A.ACTIVATE, _S.ACTIVE_BILLED, _F.FIRST_BILL_ACTIVATION, _F.REACTIVATION
    ),
    Transition(_S.CANCELLED, _A.ACTIVATE, _S.ACTIVE_BILLED, _F.REACTIVATION, _F.REACTIVATION),
    # Suspend: "moving a device from the Active-Billed state to the Suspended state".
    Transition(_S.ACTIVE_BILLED, _A.SUSPEND, _S.SUSPENDED, _F.SUSPENSION, _F.SUSPENSION),
    # Unsuspend: "from the Suspended state to the Active-Billed state"; Unsuspend fee.
    Transition(_S.SUSPENDED, _A.UNSUSPEND, _S.ACTIVE_BILLED, _F.UNSUSPEND, _F.UNSUSPEND),
    # Cancel: "move from any current state except the Initial state, to the Cancelled state".
    Transition(_S.PROVISIONED, _A.CANCEL, _S.CANCELLED, _F.DEACTIVATION, _F.DEACTIVATION),
    Transition(_S.ACTIVE_BILLED, _A.CANCEL, _S.CANCELLED, _F.DEACTIVATION, _F.DEACTIVATION),
    Transition(_S.SUSPENDED, _A.CANCEL, _S.CANCELLED, _F.DEACTIVATION, _F.DEACTIVATION),
)

#: Defaulting is the system performing the action that leaves a test state for Active-Billed:
#: Activate from Provisioned, Unsuspend from Suspended (platforms.md §2.1, "customer, or
#: automatic when a test threshold is exceeded").
DEFAULTING_ACTION = {State.PROVISIONED: Action.ACTIVATE, State.SUSPENDED: Action.UNSUSPEND}

_BY_KEY = {(t.source, t.action): t for t in TRANSITIONS}


def transition(state: State, action: Action) -> Transition:
    """The table row for ``action`` in ``state``; raises :class:`IllegalTransition` if none."""
    try:
        return _BY_KEY[(state, action)]
    except KeyError:
        raise IllegalTransition(State(state), Action(action)) from None


def allowed_actions(state: State) -> list[Action]:
    """Actions the table allows from ``state``, in action order."""
    return [a for a in Action if (state, a) in _BY_KEY]


def _compile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shape = (len(State), len(Action))
    next_state = np.full(shape, -1, dtype=np.int8)
    fee_first = np.zeros(shape, dtype=np.int8)
    fee_again = np.zeros(shape, dtype=np.int8)
    for t in TRANSITIONS:
        next_state[t.source, t.action] = t.target
        fee_first[t.source, t.action] = t.fee_first
        fee_again[t.source, t.action] = t.fee_again
    for arr in (next_state, fee_first, fee_again):
        arr.setflags(write=False)
    return next_state, fee_first, fee_again


#: ``NEXT_STATE[state, action]`` is the target state code, or -1 where the move is illegal.
NEXT_STATE, FEE_FIRST, FEE_AGAIN = _compile()


class DefaultReason(IntEnum):
    """Why a SIM defaulted to Active-Billed (recorded in ``state_changes.reason``)."""

    NONE = 0
    DATA = 1
    SMS = 2
    DAYS = 3


def default_reason_key(state: State, reason: DefaultReason) -> str:
    """Record spelling, e.g. ``provisioned_data_allowance_exceeded``."""
    if reason is DefaultReason.NONE:
        return ""
    return f"{state.key}_{reason.name.lower()}_allowance_exceeded"
