"""Scenario schema: what a run writes (``outputs``)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from cellfleet.scenarios.base import NonNegFloat, NonNegInt, PosFloat, PosInt, _Model, located_error


class SessionsOutput(_Model):
    """Which devices get per-session records."""

    mode: Literal["auto", "all", "sample", "off"] = "auto"
    """``auto``: all devices when the fleet has at most ``all_max_devices``, else a seeded
    sample of ``sample_devices``; ``all``; ``sample``; ``off``: no session table."""
    sample_devices: PosInt = 1000
    """Sample size for ``sample`` (and ``auto`` above the limit)."""
    all_max_devices: PosInt = 10000
    """Largest fleet for which ``auto`` records every device."""
    interim_time_s: PosFloat | None = None
    """A record of a long-lived (``persistent``) connection is closed, and a new partial one
    opened, once it has been open this many seconds (3GPP TS 32.298 causeForRecClosing
    ``timeLimit``; ``None``: no time limit)."""
    interim_volume_bytes: PosInt | None = None
    """A record of a long-lived (``persistent``) connection is closed, and a new partial one
    opened, once it has counted this many bytes, uplink plus downlink (3GPP TS 32.298
    causeForRecClosing ``volumeLimit``; ``None``: no volume limit)."""


class PcapOutput(_Model):
    """Packet captures, written by ``cellfleet run``, of a seeded sample of the devices whose
    sessions are recorded (``cellfleet pcap`` writes one device on demand)."""

    devices: NonNegInt = 0
    """How many devices get a ``pcap/device-N.pcap`` (0: none)."""
    from_day: NonNegFloat = 0.0
    """Start of the captured window, in days (exchanges starting in ``[from_day, to_day)``)."""
    to_day: PosFloat = 1.0
    """End of the captured window, in days (scapy builds about a thousand packets a second:
    keep windows short)."""

    @model_validator(mode="after")
    def _check_window(self) -> PcapOutput:
        if self.to_day <= self.from_day:
            located_error([(("to_day",), f"must be after from_day ({self.from_day:g}), got {self.to_day:g}")])
        return self


class Outputs(_Model):
    """What the run writes."""

    sessions: SessionsOutput = SessionsOutput()
    """Per-session records."""
    pcap: PcapOutput = PcapOutput()
    """Packet captures of a few recorded devices."""
    csv: bool = False
    """Also write CSV copies of the tables."""

    @model_validator(mode="after")
    def _check_pcap(self) -> Outputs:
        if self.pcap.devices > 0 and self.sessions.mode == "off":
            located_error([(("pcap", "devices"), "needs recorded devices; sessions.mode is 'off'")])
        return self
