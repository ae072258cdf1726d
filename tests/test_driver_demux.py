"""Property tests of the driver's demultiplexing: whatever the byte fragmentation and wherever
URCs fall inside a response (reference §8.2, §8.15), the command gets exactly its information
lines and every URC reaches the subscribers, in order; line noise never reaches either.

The test plays the modem on the master side of a pty, so each example writes real bytes in the
chunks hypothesis chose.
"""

from __future__ import annotations

import itertools
import os
import threading
import tty

from hypothesis import given, settings
from hypothesis import strategies as st
from test_driver_support import WAIT_S, wait_for

from cellfleet.modem.codec import classify_final
from cellfleet.modem.driver import ModemDriver, Response
from cellfleet.modem.urc import urc_name

URCS = [
    '+CMTI: "ME",3',
    '+CEREG: 5,"002F","0012BEEF",7',
    "+CEREG: 1",
    '+QIURC: "closed",0',
    "+CGEV: NW DETACH",
    "RING",
]

info_lines = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,.:\"+-]{0,24}", fullmatch=True).filter(
    lambda line: classify_final(line, numeric=True) is None
    and urc_name(line) is None
    and not line.upper().startswith("AT")
    and line.strip() == line
)
noise = st.binary(min_size=1, max_size=12).filter(
    lambda data: b"\r" not in data and b"\n" not in data and any(b < 0x09 or 0x0E <= b < 0x20 for b in data)
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


class FakeModem:
    """The modem end of a pty pair: reads the driver's command, writes the chosen chunks."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)

    def read_line(self) -> bytes:
        data = b""
        while not data.endswith(b"\r"):
            data += os.read(self.master, 1)
        return data

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)


def exchange(chunks: list[bytes], line: str = "AT+CGMI") -> tuple[Response, list[str]]:
    modem = FakeModem()
    received: list[str] = []
    try:
        with ModemDriver(modem.path, reconnect=False) as driver:
            driver.subscribe("", received.append)
            result: dict[str, object] = {}
            worker = threading.Thread(target=lambda: result.setdefault("r", driver.command(line, timeout_s=WAIT_S)))
            worker.start()
            assert modem.read_line() == line.encode() + b"\r"
            for chunk in chunks:
                modem.write(chunk)
            worker.join(WAIT_S)
        return result["r"], received  # type: ignore[return-value]
    finally:
        modem.close()


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(info_lines, max_size=4),
    urcs=st.lists(st.sampled_from(URCS), max_size=3),
    positions=st.lists(st.integers(min_value=0, max_value=10), min_size=3, max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    echo=st.booleans(),
)
def test_any_fragmentation_and_urc_placement_gives_a_clean_response(lines, urcs, positions, cuts, echo):
    body: list[tuple[str, str]] = [("info", line) for line in lines]
    for urc, position in zip(urcs, positions, strict=False):
        body.insert(position % (len(body) + 1), ("urc", urc))
    stream = (b"AT+CGMI\r" if echo else b"") + b"".join(f"\r\n{text}\r\n".encode() for _, text in body)
    stream += b"\r\nOK\r\n"
    response, received = exchange(split(stream, cuts))
    assert response == Response(lines, "OK")
    wait_for(lambda: len(received) == len([t for kind, t in body if kind == "urc"]), "every URC")
    assert received == [text for kind, text in body if kind == "urc"]


@settings(max_examples=30, deadline=None)
@given(garbage=noise, lines=st.lists(info_lines, min_size=1, max_size=2), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_noise_before_or_between_lines_never_reaches_the_response(garbage, lines, cuts):
    stream = garbage + b"".join(f"\r\n{line}\r\n".encode() for line in lines) + garbage + b"\r\n\r\nOK\r\n"
    response, received = exchange(split(stream, cuts))
    assert response == Response(lines, "OK")
    assert received == []
