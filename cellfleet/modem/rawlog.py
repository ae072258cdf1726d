"""A raw byte log of a serial AT session: every byte in both directions, as it happens.

Modelled on gammu's ``logformat = textall`` (every frame with a timestamp) and pyserial's
``spy://`` hexdump (``serial/urlhandler/protocol_spy.py``: 16 bytes per row, a gap after 8, the
printable text beside it). One record per write or read, one row per 16 bytes::

    # cellfleet raw AT log opened 2026-05-09T07:35:25.123456Z
    2026-05-09T07:35:25.123480Z TX 0000  41 54 2B 43 47 4D 49 0D                          AT+CGMI.
    2026-05-09T07:35:25.125002Z RX 0000  0D 0A 51 75 65 63 74 65  6C 0D 0A 0D 0A 4F 4B 0D  ..Quectel....OK.
    2026-05-09T07:35:25.125002Z RX 0010  0A                                                .
    2026-05-09T07:35:25.300000Z EV port lost: read failed: [Errno 5] Input/output error

``TX`` is host to modem, ``RX`` modem to host, ``EV`` an event of the driver (open, loss,
reconnect, close). Each record is flushed to the operating system as soon as it is written, so
a crash of the process keeps everything logged up to that moment. :func:`read_rawlog` turns a
log back into records with their exact bytes (for tests and for replaying a lab session).
"""

from __future__ import annotations

import datetime
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self, TextIO

Direction = Literal["TX", "RX", "EV"]

BYTES_PER_ROW = 16
"""Bytes per hexdump row, as in pyserial's ``spy://`` format."""

_HEX_COLUMN_CHARS = BYTES_PER_ROW * 3 + 1  # "XX " per byte plus the gap after 8 bytes
_EVENT = re.compile(r"^(?P<time>\S+Z) EV (?P<text>.*)$")
_DATA = re.compile(r"^(?P<time>\S+Z) (?P<dir>TX|RX) (?P<offset>[0-9A-F]{4,})  (?P<rest>.*)$")


def _timestamp(epoch_s: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _printable(data: bytes) -> str:
    """ASCII 0x20..0x7E as themselves, everything else as ``.`` (pyserial ``spy://``)."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)


def hexdump_rows(data: bytes) -> list[tuple[int, str, str]]:
    """``(offset, hex column, text column)`` per 16-byte row of ``data``."""
    rows = []
    for offset in range(0, len(data), BYTES_PER_ROW):
        chunk = data[offset : offset + BYTES_PER_ROW]
        first, second = chunk[:8], chunk[8:]
        hex_text = " ".join(f"{b:02X}" for b in first)
        if second:
            hex_text += "  " + " ".join(f"{b:02X}" for b in second)
        rows.append((offset, hex_text, _printable(chunk)))
    return rows


class RawLog:
    """Append-only, thread-safe raw byte log of one serial session (or several, in turn).

    The file is opened for appending, so a lab keeps one log across runs; each opening writes a
    ``#`` header line with the wall-clock time. The driver calls :meth:`tx` for every write,
    :meth:`rx` for every read and :meth:`event` for port events.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._file: TextIO | None = self.path.open("a", encoding="ascii", newline="\n")
        self._write_lines([f"# cellfleet raw AT log opened {_timestamp(self._clock())}"])

    def tx(self, data: bytes) -> None:
        """Bytes written to the modem."""
        self._record("TX", data)

    def rx(self, data: bytes) -> None:
        """Bytes read from the modem."""
        self._record("RX", data)

    def event(self, text: str) -> None:
        """A driver event (port opened, lost, reopened, closed); one line, control characters
        replaced by ``.``."""
        clean = _printable(text.encode("utf-8", "replace"))
        self._write_lines([f"{_timestamp(self._clock())} EV {clean}"])

    def _record(self, direction: Direction, data: bytes) -> None:
        if not data:
            return
        stamp = _timestamp(self._clock())
        self._write_lines(
            f"{stamp} {direction} {offset:04X}  {hex_text:<{_HEX_COLUMN_CHARS}} {text}"
            for offset, hex_text, text in hexdump_rows(bytes(data))
        )

    def _write_lines(self, lines) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.write("".join(f"{line}\n" for line in lines))
            self._file.flush()

    @property
    def closed(self) -> bool:
        return self._file is None

    def close(self) -> None:
        """Close the file; later records are dropped silently."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class RawRecord:
    """One record read back from a raw log: the bytes of one read or write, or an event."""

    time: datetime.datetime
    direction: Direction
    data: bytes
    """The exact bytes (empty for events)."""
    text: str = ""
    """The event text (empty for TX/RX)."""


def read_rawlog(path: str | os.PathLike[str]) -> list[RawRecord]:
    """Parse a raw log written by :class:`RawLog` back into records with their exact bytes.

    Rows with offset 0 start a record; rows with a higher offset continue the record before.
    Header (``#``) lines are skipped. A line that is neither raises ``ValueError`` naming its
    line number.
    """
    records: list[RawRecord] = []
    current: tuple[datetime.datetime, Direction, bytearray] | None = None
    for number, line in enumerate(Path(path).read_text(encoding="ascii").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        event = _EVENT.match(line)
        if event:
            if current:
                records.append(RawRecord(current[0], current[1], bytes(current[2])))
                current = None
            records.append(RawRecord(_parse_time(event["time"]), "EV", b"", event["text"]))
            continue
        row = _DATA.match(line)
        try:
            # The hex column has a fixed width; the text column after it may hold anything.
            data = bytes.fromhex(row["rest"][:_HEX_COLUMN_CHARS]) if row else b""
        except ValueError:
            row = None
        if row is None or not data:
            raise ValueError(f"{path}:{number}: not a raw log line: {line!r}")
        direction: Direction = row["dir"]  # type: ignore[assignment]
        if int(row["offset"], 16) == 0:
            if current:
                records.append(RawRecord(current[0], current[1], bytes(current[2])))
            current = (_parse_time(row["time"]), direction, bytearray(data))
        elif current is not None and current[1] == direction:
            current[2].extend(data)
        else:
            raise ValueError(f"{path}:{number}: continuation row without a record: {line!r}")
    if current:
        records.append(RawRecord(current[0], current[1], bytes(current[2])))
    return records


def _parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
