"""Golden transcripts of the virtual modem: a readable record of bytes in and bytes out.

One file per scenario, ``tests/golden/<profile>/<name>.txt``. Lines:

* ``# ...`` a comment; blank lines are ignored.
* ``! device key=value ...`` / ``! modem key=value ...`` (before anything else): keyword
  arguments of ``StaticDevice`` / ``VirtualModem`` (values: ints, floats, None, or text).
* ``> bytes`` the host sends these bytes at the current simulated time.
* ``@ 12.5`` simulated time passes to 12.5 s.
* ``! sms <sender> <text>`` an MT SMS arrives; ``! detach`` the client closes the port;
  ``! power_on`` the modem is powered on again.
* ``< bytes`` what the modem writes in answer to the step above; consecutive ``<`` lines are
  concatenated, and the whole must equal the modem's output byte for byte.

The modem is powered on at 0 s before the first step; its boot output is the ``<`` lines before
the first step. Byte strings are written with escapes: ``\\r``, ``\\n``, ``\\t``, ``\\\\``,
``\\xNN`` (``\\x20`` for a space at the end of a line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cellfleet.modem.device import StaticDevice
from cellfleet.modem.virtual import VirtualModem

_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|r|n|t|\\)")


def decode(text: str) -> bytes:
    """The bytes an escaped transcript string stands for."""

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}.get(code) or bytes([int(code[1:], 16)])

    return _ESCAPE.sub(one, text.encode("latin-1"))


def encode(data: bytes) -> str:
    """Escaped text of ``data`` (the inverse of ``decode``)."""
    out = []
    for byte in data:
        char = chr(byte)
        if char == "\\":
            out.append("\\\\")
        elif char == "\r":
            out.append("\\r")
        elif char == "\n":
            out.append("\\n")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    text = "".join(out)
    return text[:-1] + "\\x20" if text.endswith(" ") else text


def render(data: bytes) -> list[str]:
    """``data`` as ``<`` lines, cut after each LF (for writing new transcripts)."""
    pieces = re.findall(rb"[^\n]*\n|[^\n]+$", data)
    return [f"< {encode(p)}" for p in pieces if p]


def _value(text: str) -> object:
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass
class Step:
    kind: str  # "send", "time", "sms", "detach", "power_on"
    arg: object
    expected: bytearray = field(default_factory=bytearray)
    line_no: int = 0


@dataclass
class Transcript:
    profile: str
    device_kwargs: dict[str, object]
    modem_kwargs: dict[str, object]
    boot: bytearray
    steps: list[Step]


def parse(path: Path) -> Transcript:
    device_kwargs: dict[str, object] = {}
    modem_kwargs: dict[str, object] = {}
    boot = bytearray()
    steps: list[Step] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        marker, _, rest = raw.partition(" ")
        if marker == "<":
            (steps[-1].expected if steps else boot).extend(decode(rest))
        elif marker == ">":
            steps.append(Step("send", decode(rest), line_no=number))
        elif marker == "@":
            steps.append(Step("time", float(rest), line_no=number))
        elif marker == "!":
            command, _, tail = rest.partition(" ")
            if command in ("device", "modem"):
                target = device_kwargs if command == "device" else modem_kwargs
                for pair in tail.split():
                    key, _, value = pair.partition("=")
                    target[key] = _value(value)
            elif command == "sms":
                sender, _, text = tail.partition(" ")
                steps.append(Step("sms", (sender, text), line_no=number))
            elif command in ("detach", "power_on"):
                steps.append(Step(command, None, line_no=number))
            else:
                raise ValueError(f"{path}:{number}: unknown directive {command!r}")
        else:
            raise ValueError(f"{path}:{number}: a line starts with #, !, >, < or @")
    return Transcript(path.parent.name, device_kwargs, modem_kwargs, boot, steps)


def replay(transcript: Transcript) -> list[tuple[int, bytes, bytes]]:
    """Run the transcript; ``(line number, expected, actual)`` of every step (0 = boot)."""
    modem = VirtualModem(transcript.profile, StaticDevice(**transcript.device_kwargs), **transcript.modem_kwargs)  # type: ignore[arg-type]
    now_s = 0.0
    modem.power_on(now_s)
    results = [(0, bytes(transcript.boot), modem.take_output())]
    for step in transcript.steps:
        if step.kind == "send":
            modem.receive(step.arg, now_s)  # type: ignore[arg-type]
        elif step.kind == "time":
            now_s = float(step.arg)  # type: ignore[arg-type]
            modem.advance(now_s)
        elif step.kind == "sms":
            sender, text = step.arg  # type: ignore[misc]
            modem.inject_sms(sender, text, now_s)
        elif step.kind == "detach":
            modem.host_detached(now_s)
        else:
            modem.power_on(now_s)
        results.append((step.line_no, bytes(step.expected), modem.take_output()))
    return results


class Session:
    """A modem driven step by step in tests: ``send`` returns what the modem wrote at once,
    ``wait`` what it wrote until a later simulated time."""

    def __init__(self, profile: str | object = "generic", device: object | None = None, **modem_kwargs: object) -> None:
        self.device = device if device is not None else StaticDevice()
        self.modem = VirtualModem(profile, self.device, **modem_kwargs)  # type: ignore[arg-type]
        self.now_s = 0.0
        self.modem.power_on(0.0)
        self.boot = self.modem.take_output()

    def send(self, data: bytes | str, at_s: float | None = None) -> bytes:
        if at_s is not None:
            self.now_s = at_s
        raw = data.encode("latin-1") if isinstance(data, str) else data
        self.modem.receive(raw, self.now_s)
        return self.modem.take_output()

    def at(self, line: str, at_s: float | None = None) -> bytes:
        """Send ``line`` + CR."""
        return self.send(line + "\r", at_s)

    def wait(self, until_s: float) -> bytes:
        self.now_s = until_s
        self.modem.advance(until_s)
        return self.modem.take_output()

    def quiet(self) -> None:
        """Echo off and numeric +CME errors, output discarded."""
        self.at("ATE0;+CMEE=1")
