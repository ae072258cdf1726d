"""Traffic profiles of the scenario schema: session sizes, schedules and wire protocols."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cellfleet.emulator.session import session_for_profile
from cellfleet.scenarios.base import (
    NO_TRAFFIC,
    SECONDS_PER_DAY,
    Loc,
    Name,
    NonNegFloat,
    PosInt,
    _Model,
    located_error,
)

# --------------------------------------------------------------------------------------------
# Traffic


#: Payload sizes of a protocol profile are looked up in per-size tables of wire bytes built at
#: start (``cellfleet.sim.traffic.ProfileTable``); this bounds their memory to 16 MiB a profile.
MAX_PAYLOAD_RANGE_BYTES = 1 << 20


class SessionBytes(_Model):
    """Size of one data session (uplink + downlink), in bytes."""

    distribution: Literal["fixed", "uniform"]
    """``fixed``: every session is ``bytes``; ``uniform``: integer uniform on
    ``[min_bytes, max_bytes]``."""
    bytes: PosInt | None = None
    """Session size for ``fixed`` (required there, forbidden for ``uniform``)."""
    min_bytes: PosInt | None = None
    """Smallest session for ``uniform`` (required there, forbidden for ``fixed``)."""
    max_bytes: PosInt | None = None
    """Largest session for ``uniform`` (required there, forbidden for ``fixed``)."""

    @model_validator(mode="after")
    def _check_fields(self) -> SessionBytes:
        issues: list[tuple[Loc, str]] = []
        if self.distribution == "fixed":
            if self.bytes is None:
                issues.append((("bytes",), "required for distribution 'fixed'"))
            for key in ("min_bytes", "max_bytes"):
                if getattr(self, key) is not None:
                    issues.append(((key,), "only allowed with distribution 'uniform'; use 'bytes'"))
        else:
            if self.bytes is not None:
                issues.append(
                    (
                        ("bytes",),
                        "only allowed with distribution 'fixed'; use 'min_bytes' and 'max_bytes'",
                    )
                )
            for key in ("min_bytes", "max_bytes"):
                if getattr(self, key) is None:
                    issues.append(((key,), "required for distribution 'uniform'"))
            if (
                self.min_bytes is not None
                and self.max_bytes is not None
                and self.min_bytes > self.max_bytes
            ):
                issues.append(
                    (
                        ("min_bytes",),
                        f"must not exceed max_bytes ({self.max_bytes}), got {self.min_bytes}",
                    )
                )
        if issues:
            located_error(issues)
        return self

    @property
    def range_bytes(self) -> tuple[int, int]:
        """Smallest and largest size (equal for ``fixed``)."""
        if self.distribution == "fixed":
            return self.bytes, self.bytes  # type: ignore[return-value]
        return self.min_bytes, self.max_bytes  # type: ignore[return-value]

    @property
    def mean_bytes(self) -> float:
        """Expected session size in bytes."""
        if self.distribution == "fixed":
            return float(self.bytes)  # type: ignore[arg-type]
        return (self.min_bytes + self.max_bytes) / 2  # type: ignore[operator]


class TrafficProfile(_Model):
    """How one device sends traffic while its state passes traffic."""

    name: Name
    """Name fleet groups and actions refer to (``none`` is reserved for no traffic)."""
    schedule: Literal["poisson", "periodic"] = "poisson"
    """``poisson``: exponential gaps with mean ``1 / sessions_per_day``; ``periodic``: gaps of
    ``86400 / sessions_per_day`` seconds, each lengthened or shortened by
    ``U(-jitter_s, +jitter_s)`` (a device that sleeps one period, give or take, between reports;
    the first session falls at a uniform phase inside the first period)."""
    sessions_per_day: NonNegFloat
    """Mean number of data sessions per day per device."""
    jitter_s: NonNegFloat = 0.0
    """Periodic schedule only: each gap is changed by ``U(-jitter_s, +jitter_s)`` seconds;
    must be below half the period."""
    protocol: Literal["raw", "mqtt", "mqtt-tls", "http", "https", "coap", "coap-dtls", "udp"] = "raw"
    """``raw``: ``session_bytes`` are the billed bytes of a session, split by
    ``uplink_fraction``. Any other value names a session on the wire
    (``cellfleet.emulator.session``; ``cellfleet traffic explain NAME`` shows one): then
    ``session_bytes`` is the application payload of one report, and the billed uplink and
    downlink bytes are those of every IP packet of the exchange (headers, handshakes, TLS)."""
    session_bytes: SessionBytes
    """Size of one session (``raw``) or its application payload (any other protocol)."""
    uplink_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    """``raw`` only: share of each session's bytes that is uplink, the rest downlink (default
    0.5)."""
    tls_version: Literal["1.2", "1.3"] | None = None
    """Not ``raw``: TLS version of ``mqtt-tls`` and ``https`` (default 1.3)."""
    mqtt_qos: Literal[0, 1] | None = None
    """Not ``raw``: MQTT QoS of ``mqtt`` and ``mqtt-tls`` (default 0; 1 adds a PUBACK)."""
    ip_version: Literal[4, 6] | None = None
    """Not ``raw``: IP version of the packets (default 4)."""
    session_duration_s: NonNegFloat = 0.0
    """Length of one session in seconds (0 = instantaneous)."""
    sms_per_day: NonNegFloat = 0.0
    """Mean number of SMS per day per device (Poisson)."""

    @model_validator(mode="before")
    @classmethod
    def _contextual_defaults(cls, data: Any) -> Any:
        """Fill the defaults that depend on ``protocol``, so a resolved scenario shows them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("protocol", "raw") == "raw":
            data.setdefault("uplink_fraction", 0.5)
        else:
            for key, value in (("tls_version", "1.3"), ("mqtt_qos", 0), ("ip_version", 4)):
                data.setdefault(key, value)
        return data

    @property
    def uplink_share(self) -> float:
        """``uplink_fraction`` with its default (``raw`` profiles)."""
        return 0.5 if self.uplink_fraction is None else self.uplink_fraction

    def _protocol_issues(self) -> list[tuple[Loc, str]]:
        wire_only = ("tls_version", "mqtt_qos", "ip_version")
        if self.protocol == "raw":
            return [((key,), "only allowed with a protocol other than 'raw'")
                    for key in wire_only if getattr(self, key) is not None]  # fmt: skip
        issues: list[tuple[Loc, str]] = []
        if self.uplink_fraction is not None:
            issues.append((("uplink_fraction",), f"only allowed with protocol 'raw'; '{self.protocol}' "
                           "splits uplink and downlink by its packets"))  # fmt: skip
        low, high = self.session_bytes.range_bytes
        if high - low + 1 > MAX_PAYLOAD_RANGE_BYTES:
            issues.append((("session_bytes",), f"payload range of a '{self.protocol}' profile must span at most "
                           f"{MAX_PAYLOAD_RANGE_BYTES:,} values, got {low:,}..{high:,}"))  # fmt: skip
        else:
            try:  # the wire model checks sizes
                session_for_profile(self).writes(high)
            except ValueError as exc:
                issues.append((("session_bytes",), f"{high:,} bytes cannot be carried by '{self.protocol}': {exc}"))
        return issues

    @property
    def period_s(self) -> float | None:
        """Seconds between sessions of a periodic schedule (``None`` if no sessions)."""
        if self.sessions_per_day == 0:
            return None
        return SECONDS_PER_DAY / self.sessions_per_day

    @model_validator(mode="after")
    def _check_profile(self) -> TrafficProfile:
        issues: list[tuple[Loc, str]] = []
        if self.name == NO_TRAFFIC:
            issues.append((("name",), f"'{NO_TRAFFIC}' is reserved for no traffic"))
        issues += self._protocol_issues()
        if self.jitter_s > 0:
            if self.schedule != "periodic":
                issues.append(
                    (
                        ("jitter_s",),
                        f"only allowed with schedule 'periodic', not '{self.schedule}'",
                    )
                )
            elif self.period_s is not None and self.jitter_s >= self.period_s / 2:
                issues.append(
                    (
                        ("jitter_s",),
                        f"must be less than half the period ({self.period_s / 2:g} s at "
                        f"{self.sessions_per_day:g} sessions per day), got {self.jitter_s:g}",
                    )
                )
        if issues:
            located_error(issues)
        return self
