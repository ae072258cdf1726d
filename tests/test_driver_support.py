"""Shared helpers of the driver tests (no tests here): a virtual modem served on a real pty, a
driver with a raw log on it, and waits with generous timeouts for a loaded 2-core machine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cellfleet.modem.device import StaticDevice
from cellfleet.modem.driver import ModemDriver
from cellfleet.modem.pty_server import ModemServer
from cellfleet.modem.rawlog import RawLog, read_rawlog
from cellfleet.modem.virtual import VirtualModem

WAIT_S = 10.0
"""How long a test waits for real I/O before it fails (never a speed assertion)."""


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextmanager
def served(
    tmp_path: Path,
    profile: str = "generic",
    *,
    device: StaticDevice | None = None,
    latency_scale: float = 0.0,
    urc_mode: str = "buffer",
    speed: float = 1.0,
    tcp: tuple[str, int] | None = None,
) -> Iterator[ModemServer]:
    """One virtual modem on a pty linked at ``tmp_path/modem0`` (no simulated latency by default)."""
    modem = VirtualModem(profile, device or StaticDevice(), latency_scale=latency_scale, urc_mode=urc_mode)
    server = ModemServer([modem], [tmp_path / "modem0"], speed=speed, tcp=tcp)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def driven(server: ModemServer, tmp_path: Path, **options) -> Iterator[ModemDriver]:
    """A driver on the server's first link, logging raw bytes to ``tmp_path/raw.log``."""
    with RawLog(tmp_path / "raw.log") as log, ModemDriver(server.paths[0], raw_log=log, **options) as driver:
        yield driver


def tx_records(tmp_path: Path) -> list[bytes]:
    """Every write of the driver, in order."""
    return [r.data for r in read_rawlog(tmp_path / "raw.log") if r.direction == "TX"]


def rx_bytes(tmp_path: Path) -> bytes:
    """Every byte the driver read, concatenated."""
    return b"".join(r.data for r in read_rawlog(tmp_path / "raw.log") if r.direction == "RX")


def events(tmp_path: Path) -> list[str]:
    return [r.text for r in read_rawlog(tmp_path / "raw.log") if r.direction == "EV"]


def wait_for_tx(tmp_path: Path, data: bytes, count: int = 1) -> None:
    """Until the driver has written ``data`` ``count`` times (the command is in flight)."""
    wait_for(lambda: tx_records(tmp_path).count(data) >= count, f"{count}x {data!r} written")
