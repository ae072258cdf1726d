"""Traffic profiles of the scenario schema: session sizes, schedules and wire protocols."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from cellfleet.emulator.session import session_for_profile
from cellfleet.scenarios.base import (
    LOCATED_ERROR_TYPE,
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


#: Payload sizes of a ``uniform`` protocol profile are looked up in per-size tables of wire bytes
#: built at start (``cellfleet.sim.traffic.ProfileTable``); this bounds their memory to 16 MiB a
#: profile. ``fixed`` and ``empirical`` sizes are looked up per distinct value.
MAX_PAYLOAD_RANGE_BYTES = 1 << 20

#: Most distinct sizes an ``empirical`` distribution may list.
MAX_EMPIRICAL_VALUES = 4096

#: Hours of a day, the length of ``hourly_weights``.
HOURS_PER_DAY = 24

#: Protocols whose sessions open a connection (TCP handshake or a DTLS handshake) that can fail.
SETUP_PROTOCOLS: tuple[str, ...] = (
    "mqtt", "mqtt-tls", "http", "https", "http-download", "https-download", "coap-dtls",
)  # fmt: skip

#: Protocols that send a lost transmission again (TCP segments, CoAP confirmable requests).
RETRANSMITTING_PROTOCOLS: tuple[str, ...] = (
    "mqtt", "mqtt-tls", "http", "https", "http-download", "https-download", "coap", "coap-dtls",
)  # fmt: skip

#: Protocols whose request is a CoAP message (confirmable or not).
COAP_PROTOCOLS = ("coap", "coap-dtls")
#: Protocols that can keep one connection open across reports.
PERSISTENT_PROTOCOLS: tuple[str, ...] = ("mqtt", "mqtt-tls")

#: Keys of earlier schema versions: what replaced them.
RENAMED_KEYS: dict[str, str] = {
    "sms_per_day": "now 'sms_mo_per_day' for SMS sent by the device and 'sms_mt_per_day' for "
    "SMS received",
}


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _weights_issues(key: str, weights: list[float]) -> list[tuple[Loc, str]]:
    if weights and sum(weights) <= 0:
        return [((key,), "must not all be 0")]
    return []


class SessionBytes(_Model):
    """Size of one data session (uplink + downlink), in bytes."""

    distribution: Literal["fixed", "uniform", "empirical"]
    """``fixed``: every session is ``bytes``; ``uniform``: integer uniform on
    ``[min_bytes, max_bytes]``; ``empirical``: one of ``values``, drawn with probabilities
    proportional to ``weights``."""
    bytes: PosInt | None = None
    """Session size for ``fixed`` (required there, forbidden otherwise)."""
    min_bytes: PosInt | None = None
    """Smallest session for ``uniform`` (required there, forbidden otherwise)."""
    max_bytes: PosInt | None = None
    """Largest session for ``uniform`` (required there, forbidden otherwise)."""
    values: Annotated[list[PosInt], Field(min_length=1)] | None = None
    """Session sizes for ``empirical``: 1 to 4096 distinct sizes (required there, forbidden
    otherwise)."""
    weights: list[NonNegFloat] | None = None
    """``empirical`` only: relative frequency of each of ``values``, one weight per value, not
    all 0 (default: equal weights)."""

    @model_validator(mode="after")
    def _check_fields(self) -> SessionBytes:
        issues: list[tuple[Loc, str]] = []
        use = {
            "fixed": "use 'bytes'",
            "uniform": "use 'min_bytes' and 'max_bytes'",
            "empirical": "use 'values' and 'weights'",
        }[self.distribution]
        owners = {
            "bytes": "fixed",
            "min_bytes": "uniform",
            "max_bytes": "uniform",
            "values": "empirical",
            "weights": "empirical",
        }
        for key, owner in owners.items():
            if owner != self.distribution and getattr(self, key) is not None:
                issues.append(((key,), f"only allowed with distribution '{owner}'; {use}"))
        required = {"fixed": ("bytes",), "uniform": ("min_bytes", "max_bytes"),
                    "empirical": ("values",)}[self.distribution]  # fmt: skip
        for key in required:
            if getattr(self, key) is None:
                issues.append(((key,), f"required for distribution '{self.distribution}'"))
        if (
            self.distribution == "uniform"
            and self.min_bytes is not None
            and self.max_bytes is not None
            and self.min_bytes > self.max_bytes
        ):
            issues.append(
                (
                    ("min_bytes",),
                    f"must not exceed max_bytes ({self.max_bytes}), got {self.min_bytes}",
                )
            )
        if self.distribution == "empirical" and self.values is not None:
            issues += self._empirical_issues(self.values)
        if issues:
            located_error(issues)
        return self

    def _empirical_issues(self, values: list[int]) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        if len(values) > MAX_EMPIRICAL_VALUES:
            issues.append((("values",), f"must list at most {MAX_EMPIRICAL_VALUES:,} sizes, "
                           f"got {len(values):,}"))  # fmt: skip
        first: dict[int, int] = {}
        for i, value in enumerate(values):
            if value in first:
                issues.append((("values", i), f"duplicate size {value} (first at values[{first[value]}])"))
            else:
                first[value] = i
        if self.weights is not None:
            if len(self.weights) != len(values):
                issues.append((("weights",), f"must list one weight per value ({len(values)} values), "
                               f"got {len(self.weights)}"))  # fmt: skip
            else:
                issues += _weights_issues("weights", self.weights)
        return issues

    @property
    def range_bytes(self) -> tuple[int, int]:
        """Smallest and largest size (equal for ``fixed``)."""
        if self.distribution == "fixed":
            return self.bytes, self.bytes  # type: ignore[return-value]
        if self.distribution == "empirical":
            return min(self.values), max(self.values)  # type: ignore[arg-type, type-var]
        return self.min_bytes, self.max_bytes  # type: ignore[return-value]

    @property
    def mean_bytes(self) -> float:
        """Expected session size in bytes."""
        if self.distribution == "fixed":
            return float(self.bytes)  # type: ignore[arg-type]
        if self.distribution == "empirical":
            values, shares = self.choices
            return sum(v * p for v, p in zip(values, shares, strict=True))
        return (self.min_bytes + self.max_bytes) / 2  # type: ignore[operator]

    @property
    def choices(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The sizes and their probabilities (summing to 1): ``values`` and normalised
        ``weights`` for ``empirical``, ``((bytes,), (1.0,))`` for ``fixed``.

        Raises :class:`ValueError` for ``uniform``, whose sizes are not listed (use
        :attr:`range_bytes`).
        """
        if self.distribution == "fixed":
            return (self.bytes,), (1.0,)  # type: ignore[return-value]
        if self.distribution == "uniform":
            raise ValueError("a uniform distribution has no list of choices; use range_bytes")
        values = tuple(self.values)  # type: ignore[arg-type]
        weights = [1.0] * len(values) if self.weights is None else self.weights
        total = sum(weights)
        return values, tuple(w / total for w in weights)


class TrafficProfile(_Model):
    """How one device sends traffic while its state passes traffic."""

    name: Name
    """Name fleet groups and actions refer to (``none`` is reserved for no traffic)."""
    schedule: Literal["poisson", "periodic", "diurnal"] = "poisson"
    """When bursts of sessions start (each burst is ``burst_size`` sessions, one session by
    default), at ``sessions_per_day / burst_size`` bursts per day on average.
    ``poisson``: exponential gaps between bursts; ``periodic``: gaps of ``burst_period_s``
    seconds, each lengthened or shortened by ``U(-jitter_s, +jitter_s)`` (a device that sleeps
    one period, give or take, between reports; the first burst falls at a uniform phase inside
    the first period); ``diurnal``: a non-homogeneous Poisson process whose rate in hour ``h``
    of the day is proportional to ``hourly_weights[h]``, scaled so that the daily mean stays
    ``sessions_per_day`` (``hourly_rate_share[h] * sessions_per_day / burst_size`` bursts are
    expected in hour ``h``)."""
    sessions_per_day: NonNegFloat
    """Mean number of data sessions per day per device (every session of a burst counts)."""
    hourly_weights: list[NonNegFloat] | None = None
    """``diurnal`` only (required there): 24 relative rates, one per hour of the day of
    simulated time (UTC, hour 0 = 00:00..01:00), not all 0."""
    jitter_s: NonNegFloat = 0.0
    """Periodic schedule only: each gap is changed by ``U(-jitter_s, +jitter_s)`` seconds;
    must be below half the period."""
    burst_size: PosInt = 1
    """Sessions per arrival of the schedule, ``burst_spacing_s`` apart."""
    burst_spacing_s: NonNegFloat = 0.0
    """Seconds between the starts of consecutive sessions of a burst (above 0 only with
    ``burst_size`` above 1). A periodic burst plus its jitter must fit in half the period;
    any burst must span less than a day."""
    protocol: Literal[
        "raw", "mqtt", "mqtt-tls", "http", "https", "http-download", "https-download",
        "coap", "coap-dtls", "udp",
    ] = "raw"  # fmt: skip
    """``raw``: ``session_bytes`` are the billed bytes of a session, split by
    ``uplink_fraction``. Any other value names a session on the wire
    (``cellfleet.emulator.session``; ``cellfleet traffic explain NAME`` shows one): then
    ``session_bytes`` is the application payload of one report (for ``http-download`` and
    ``https-download``, the body of the response to an HTTP GET, e.g. a firmware image), and
    the billed uplink and downlink bytes are those of every IP packet of the exchange
    (headers, handshakes, TLS)."""
    session_bytes: SessionBytes
    """Size of one session (``raw``) or its application payload (any other protocol)."""
    uplink_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    """``raw`` only: share of each session's bytes that is uplink, the rest downlink (default
    0.5)."""
    tls_version: Literal["1.2", "1.3"] | None = None
    """Not ``raw``: TLS version of ``mqtt-tls``, ``https`` and ``https-download`` (default
    1.3)."""
    mqtt_qos: Literal[0, 1] | None = None
    """Not ``raw``: MQTT QoS of ``mqtt`` and ``mqtt-tls`` (default 0; 1 adds a PUBACK)."""
    ip_version: Literal[4, 6] | None = None
    """Not ``raw``: IP version of the packets (default 4)."""
    coap_type: Literal["confirmable", "non-confirmable"] | None = None
    """``coap`` and ``coap-dtls`` only: a confirmable request answered by an ACK (default), or a
    non-confirmable one that nothing answers or retransmits (RFC 7252 §2.1, §4.3)."""
    connection: Literal["per_report", "persistent"] = "per_report"
    """``per_report``: every session opens and closes its own connection; ``persistent``
    (``mqtt`` and ``mqtt-tls`` only): one long-lived connection while the state passes
    traffic, reports are sent over it and MQTT PINGREQ/PINGRESP keep it alive when idle."""
    keepalive_s: Annotated[int, Field(ge=1, le=65535)] | None = None
    """``persistent`` only: MQTT keep alive in seconds, a 16-bit number (MQTT 3.1.1
    §3.1.2.10; default 1200)."""
    loss_probability: Annotated[float, Field(ge=0, le=0.5, allow_inf_nan=False)] | None = None
    """Not ``raw`` or ``udp``: probability that one transmission of a data segment (TCP
    protocols) or of the CoAP confirmable request (``coap``, ``coap-dtls``) is lost and sent
    again; every transmission is billed (default 0)."""
    establishment_failure_probability: (
        Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None
    ) = None
    """Protocols with a connection set-up (``mqtt``, ``mqtt-tls``, ``http``, ``https``,
    ``http-download``, ``https-download``, ``coap-dtls``) only: probability that one attempt
    gets no answer to its SYN or first DTLS flight (default 0)."""
    max_attempts: Annotated[int, Field(ge=1, le=10)] | None = None
    """Protocols with a connection set-up only: attempts in total to set up a connection
    before the session is given up (default 3)."""
    retry_interval_s: NonNegFloat | None = None
    """Protocols with a connection set-up only: seconds between a failed attempt and the next
    (default 30)."""
    apn: Name = "iot.cellfleet"
    """Access point name of the data sessions (written to session records)."""
    session_duration_s: NonNegFloat = 0.0
    """Length of one session in seconds (0 = instantaneous)."""
    sms_mo_per_day: NonNegFloat = 0.0
    """Mean number of mobile-originated SMS (sent by the device) per day per device
    (Poisson)."""
    sms_mt_per_day: NonNegFloat = 0.0
    """Mean number of mobile-terminated SMS (received by the device) per day per device
    (Poisson). MO and MT SMS both count against an SMS allowance."""

    @model_validator(mode="before")
    @classmethod
    def _contextual_defaults(cls, data: Any) -> Any:
        """Fill the defaults that depend on ``protocol`` and ``connection``, so a resolved
        scenario shows them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        protocol = data.get("protocol", "raw")
        if protocol == "raw":
            data.setdefault("uplink_fraction", 0.5)
        else:
            for key, value in (("tls_version", "1.3"), ("mqtt_qos", 0), ("ip_version", 4)):
                data.setdefault(key, value)
        if protocol in RETRANSMITTING_PROTOCOLS:
            data.setdefault("loss_probability", 0.0)
        if protocol in SETUP_PROTOCOLS:
            for key, value in (
                ("establishment_failure_probability", 0.0),
                ("max_attempts", 3),
                ("retry_interval_s", 30.0),
            ):
                data.setdefault(key, value)
        if data.get("connection") == "persistent":
            data.setdefault("keepalive_s", 1200)
        if protocol in COAP_PROTOCOLS:
            data.setdefault("coap_type", "confirmable")
        return data

    @property
    def uplink_share(self) -> float:
        """``uplink_fraction`` with its default (``raw`` profiles)."""
        return 0.5 if self.uplink_fraction is None else self.uplink_fraction

    @property
    def hourly_rate_share(self) -> tuple[float, ...]:
        """Share of a day's sessions expected in each hour 0..23: ``hourly_weights``
        normalised to sum 1 for ``diurnal``, 24 equal shares otherwise."""
        if self.hourly_weights is None:
            return (1 / HOURS_PER_DAY,) * HOURS_PER_DAY
        total = sum(self.hourly_weights)
        return tuple(w / total for w in self.hourly_weights)

    @property
    def burst_period_s(self) -> float | None:
        """Mean seconds between the starts of bursts, ``86400 * burst_size /
        sessions_per_day``: the exact gap of a periodic schedule (``None`` if no sessions)."""
        if self.sessions_per_day == 0:
            return None
        return SECONDS_PER_DAY * self.burst_size / self.sessions_per_day

    def _protocol_issues(self) -> list[tuple[Loc, str]]:
        wire_only = ("tls_version", "mqtt_qos", "ip_version")
        issues: list[tuple[Loc, str]] = []
        if self.protocol == "raw":
            issues += [((key,), "only allowed with a protocol other than 'raw'")
                       for key in wire_only if getattr(self, key) is not None]  # fmt: skip
        elif self.uplink_fraction is not None:
            issues.append((("uplink_fraction",), f"only allowed with protocol 'raw'; '{self.protocol}' "
                           "splits uplink and downlink by its packets"))  # fmt: skip
        if self.connection == "persistent" and self.protocol not in PERSISTENT_PROTOCOLS:
            issues.append((("connection",), "'persistent' only allowed with protocol 'mqtt' or "
                           f"'mqtt-tls', not '{self.protocol}'"))  # fmt: skip
        if self.keepalive_s is not None and self.connection != "persistent":
            issues.append((("keepalive_s",), "only allowed with connection 'persistent', "
                           f"not '{self.connection}'"))  # fmt: skip
        if self.coap_type is not None and self.protocol not in COAP_PROTOCOLS:
            issues.append((("coap_type",), f"only allowed with protocol 'coap' or 'coap-dtls', not '{self.protocol}'"))
        if self.coap_type == "non-confirmable" and self.loss_probability:
            issues.append((("loss_probability",), "a non-confirmable CoAP request is never sent again; "
                           "use coap_type 'confirmable' to model losses"))  # fmt: skip
        if self.loss_probability is not None and self.protocol not in RETRANSMITTING_PROTOCOLS:
            issues.append((("loss_probability",), "only allowed with a protocol that sends lost data again "
                           f"({_quoted(RETRANSMITTING_PROTOCOLS)}), not '{self.protocol}'"))  # fmt: skip
        if self.protocol not in SETUP_PROTOCOLS:
            issues += [((key,), "only allowed with a protocol that sets up a connection "
                        f"({_quoted(SETUP_PROTOCOLS)}), not '{self.protocol}'")
                       for key in ("establishment_failure_probability", "max_attempts", "retry_interval_s")
                       if getattr(self, key) is not None]  # fmt: skip
        if self.protocol != "raw":
            issues += self._payload_issues()
        return issues

    def _payload_issues(self) -> list[tuple[Loc, str]]:
        low, high = self.session_bytes.range_bytes
        if self.session_bytes.distribution == "uniform" and high - low + 1 > MAX_PAYLOAD_RANGE_BYTES:
            return [(("session_bytes",), f"payload range of a '{self.protocol}' profile must span at most "
                     f"{MAX_PAYLOAD_RANGE_BYTES:,} values, got {low:,}..{high:,}")]  # fmt: skip
        try:  # the wire model checks sizes
            session_for_profile(self).writes(high)
        except KeyError:  # a protocol the wire model does not know yet: nothing to check
            pass
        except ValueError as exc:
            return [(("session_bytes",), f"{high:,} bytes cannot be carried by '{self.protocol}': {exc}")]
        return []

    def _schedule_issues(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        if self.schedule == "diurnal":
            if self.hourly_weights is None:
                issues.append((("hourly_weights",), "required for schedule 'diurnal'"))
            elif len(self.hourly_weights) != HOURS_PER_DAY:
                issues.append((("hourly_weights",), f"must list {HOURS_PER_DAY} weights, one per hour "
                               f"0..23, got {len(self.hourly_weights)}"))  # fmt: skip
            else:
                issues += _weights_issues("hourly_weights", self.hourly_weights)
        elif self.hourly_weights is not None:
            issues.append((("hourly_weights",), "only allowed with schedule 'diurnal', "
                           f"not '{self.schedule}'"))  # fmt: skip
        if self.burst_spacing_s > 0 and self.burst_size == 1:
            issues.append((("burst_spacing_s",), "only allowed with burst_size above 1 (burst_size: 1)"))
        span_s = (self.burst_size - 1) * self.burst_spacing_s
        period = self.burst_period_s
        at = f"at {self.sessions_per_day:g} sessions per day"
        if self.burst_size > 1:
            at += f" in bursts of {self.burst_size}"
        if self.jitter_s > 0 and self.schedule != "periodic":
            issues.append((("jitter_s",), f"only allowed with schedule 'periodic', not '{self.schedule}'"))
        elif self.schedule == "periodic" and period is not None:
            if self.jitter_s >= period / 2:
                issues.append((("jitter_s",), f"must be less than half the period ({period / 2:g} s {at}), "
                               f"got {self.jitter_s:g}"))  # fmt: skip
            elif span_s + self.jitter_s >= period / 2:
                issues.append((("burst_spacing_s",), f"a burst of {self.burst_size} sessions "
                               f"{self.burst_spacing_s:g} s apart ({span_s:g} s) plus jitter_s "
                               f"({self.jitter_s:g} s) must be less than half the period "
                               f"({period / 2:g} s {at})"))  # fmt: skip
        if self.schedule != "periodic" and span_s >= SECONDS_PER_DAY:
            issues.append((("burst_spacing_s",), f"a burst of {self.burst_size} sessions "
                           f"{self.burst_spacing_s:g} s apart spans {span_s:g} s, must be less "
                           f"than a day ({SECONDS_PER_DAY:g} s)"))  # fmt: skip
        return issues

    @model_validator(mode="after")
    def _check_profile(self) -> TrafficProfile:
        issues: list[tuple[Loc, str]] = []
        if self.name == NO_TRAFFIC:
            issues.append((("name",), f"'{NO_TRAFFIC}' is reserved for no traffic"))
        issues += self._protocol_issues()
        issues += self._schedule_issues()
        if issues:
            located_error(issues)
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _renamed_keys(cls, data: Any, handler: Any) -> Any:
        """Report keys of earlier schema versions with what replaced them, along with every
        other problem of the profile (defined last, so that ``handler`` runs every other
        check)."""
        if not isinstance(data, dict) or not any(key in data for key in RENAMED_KEYS):
            return handler(data)
        hints = [((key,), f"unknown key '{key}' ({RENAMED_KEYS[key]})")
                 for key in RENAMED_KEYS if key in data]  # fmt: skip
        renamed = PydanticCustomError(LOCATED_ERROR_TYPE, "{message}", {
            "message": "; ".join(message for _, message in hints), "issues": hints})  # fmt: skip
        try:
            handler({key: value for key, value in data.items() if key not in RENAMED_KEYS})
        except ValidationError as exc:
            errors: list[Any] = [{"type": renamed, "loc": (), "input": data}]
            for err in exc.errors():
                kind = err["type"]
                if kind == LOCATED_ERROR_TYPE:
                    kind = PydanticCustomError(kind, "{message}", err["ctx"])
                errors.append({"type": kind, "loc": err["loc"], "input": err["input"],
                               **({"ctx": err["ctx"]} if "ctx" in err else {})})  # fmt: skip
            raise ValidationError.from_exception_data(exc.title, errors) from None
        raise renamed
