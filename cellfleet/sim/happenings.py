"""The engine's happenings on the SimPy heap and its run counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy


class At(simpy.events.Event):
    """An already-triggered event due after ``delay_s`` with a given priority (a bare timeout)."""

    def __init__(self, env: simpy.Environment, delay_s: float, priority: int, callback) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        self.callbacks.append(callback)
        env.schedule(self, priority, delay_s)


@dataclass
class RunCounts:
    """What a run did, for the summary."""

    devices: int
    days: int
    final_states: dict[str, int] = field(default_factory=dict)
    defaulted_by_reason: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    total_bytes: int = 0
    sms_mo: int = 0
    sms_mt: int = 0
    state_changes: int = 0
    rejected_operations: int = 0
    recorded_sessions: int = 0
    recorded_sms: int = 0
    recorded_devices: int = 0
    control_events: int = 0
    network: dict = field(default_factory=dict)

    @property
    def device_days(self) -> int:
        return self.devices * self.days

    @property
    def defaulted(self) -> int:
        return sum(self.defaulted_by_reason.values())


@dataclass(frozen=True)
class ScheduledAction:
    index: int
    occurrence: int
    time_s: float
    spec: object  # scenario OperatorAction
    traffic_row: int  # for set_traffic, else -1
    profile: int  # for send_once, else -1

    @property
    def operation(self) -> str:
        label = self.spec.name or f"actions[{self.index}]"
        return label if self.occurrence == 0 else f"{label}#{self.occurrence + 1}"
