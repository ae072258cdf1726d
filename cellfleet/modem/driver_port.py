"""A serial port that stays open: ``serial_for_url``, a reader thread, loss detection and
reopening with back-off (reference ``at-commands.md`` §8.5).

Real modules vanish: a reset (``AT+CFUN=1,1``, ``AT+QPOWD``) re-enumerates the USB device, the
open fd fails with EIO or pyserial's "device reports readiness to read but returned no data",
and the device comes back (under a ``/dev/serial/by-id`` or udev link) seconds later.
:class:`ReconnectingPort` reports the loss (``on_lost``), reopens the same URL with exponential
back-off for up to ``reconnect_timeout_s`` and reports the new port (``on_reopened``); after
that it is :attr:`gone` for good. Every byte read or written goes to the raw log, if any.

``exclusive`` takes pyserial's advisory ``flock`` on local devices (a plain path, ``spy://``,
``hwgrep://``, ``alt://``: pyserial's POSIX port), so a second driver or ModemManager cannot
interleave commands (§8.18). ``socket://``, ``rfc2217://`` and ``loop://`` have no lock to take;
the option is not passed to them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import serial

from cellfleet.modem.errors import AtTimeout, PortGone
from cellfleet.modem.rawlog import RawLog

try:
    import termios
except ImportError:  # pragma: no cover - not POSIX
    termios = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, TypeError, AttributeError)
"""What a failing port raises: pyserial's exceptions, OSError (EIO), ``termios.error`` from
``tcdrain`` / ``TIOCINQ`` on a hung-up pty, Type/AttributeError from a port closed meanwhile."""
if termios is not None:
    PORT_ERRORS += (termios.error,)

READ_POLL_S = 0.05
"""How long one read blocks before the reader thread checks whether it should stop."""
WRITE_TIMEOUT_S = 5.0
"""A write that cannot complete in this time (flow control, a stuck device) raises AtTimeout."""
READER_JOIN_TIMEOUT_S = 5.0
"""How long :meth:`ReconnectingPort.close` waits for the reader thread to stop."""
RECONNECT_FIRST_DELAY_S, RECONNECT_MAX_DELAY_S = 0.05, 1.0
_LOCAL_SCHEMES = ("spy://", "hwgrep://", "alt://")


def is_local_device(url: str) -> bool:
    """Whether pyserial opens ``url`` as a local device (where ``exclusive`` means a lock)."""
    return "://" not in url or url.startswith(_LOCAL_SCHEMES)


class ReconnectingPort:
    """One serial port with its reader thread; see the module docstring.

    Callbacks run on the reader thread: ``on_bytes(data)`` for everything read, ``on_lost(exc)``
    when the port fails, ``on_reopened()`` after a successful reopen (before the first read from
    the new port). Opening in the constructor raises ``serial.SerialException`` or
    ``ValueError`` (unknown URL scheme) when the port cannot be opened at all.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int,
        exclusive: bool,
        raw_log: RawLog | None,
        reconnect: bool,
        reconnect_timeout_s: float,
        on_bytes: Callable[[bytes], None],
        on_lost: Callable[[BaseException], None],
        on_reopened: Callable[[], None],
    ) -> None:
        self.url, self.baudrate, self.exclusive = url, baudrate, exclusive
        self.raw_log = raw_log
        self.reconnect, self.reconnect_timeout_s = reconnect, reconnect_timeout_s
        self._on_bytes, self._on_lost, self._on_reopened = on_bytes, on_lost, on_reopened
        self.connected = threading.Event()
        """Set while a port is open (and, with :attr:`gone` set, once the port is given up)."""
        self.gone: PortGone | None = None
        """Set when the port is lost for good (no reconnect, or reconnecting timed out)."""
        self.reconnects = 0
        """How many times the port was reopened after a loss."""
        self.last_rx_s = time.monotonic()
        self._closing = threading.Event()
        self._write_failed = threading.Event()
        self._serial = self._open()
        self.connected.set()
        self.event(f"opened {url}")
        self._thread = threading.Thread(target=self._read_loop, name="at-reader", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        """Write and drain ``data``; :class:`PortGone` if the port fails (the reader thread then
        reconnects), :class:`AtTimeout` if it does not drain within ``WRITE_TIMEOUT_S``."""
        if self.raw_log is not None:
            self.raw_log.tx(data)
        try:
            self._serial.write(data)
            self._serial.flush()
        except serial.SerialTimeoutException as exc:
            raise AtTimeout(data.decode("ascii", "replace").strip(), WRITE_TIMEOUT_S) from exc
        except PORT_ERRORS as exc:
            self._write_failed.set()
            raise PortGone(f"{self.url}: write failed: {exc}") from exc

    def event(self, text: str) -> None:
        """Note a port event in the debug log and the raw log."""
        log.debug("%s: %s", self.url, text)
        if self.raw_log is not None:
            self.raw_log.event(text)

    def close(self) -> None:
        """Stop the reader thread and close the port."""
        self._closing.set()
        cancel = getattr(self._serial, "cancel_read", None)  # wakes a blocked POSIX read
        if cancel is not None:
            self._quietly(cancel)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=READER_JOIN_TIMEOUT_S)
        self.connected.clear()
        self._quietly(self._serial.close)

    def _open(self) -> serial.SerialBase:
        options: dict[str, object] = {"baudrate": self.baudrate, "timeout": READ_POLL_S, "write_timeout": WRITE_TIMEOUT_S}
        if is_local_device(self.url):
            options["exclusive"] = self.exclusive
        return serial.serial_for_url(self.url, **options)

    @staticmethod
    def _quietly(call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the port is already broken; nothing left to do with it
            log.debug("ignored while closing: %r", exc)

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            try:
                data = self._serial.read(1)
                if data and (waiting := self._serial.in_waiting):
                    data += self._serial.read(waiting)
                if self._write_failed.is_set():
                    raise serial.SerialException("write failed")
            except PORT_ERRORS as exc:
                if self._closing.is_set():
                    return
                self._lost(exc)
                if not (self.reconnect and self._reopen()):
                    self.gone = PortGone(f"{self.url}: port is gone ({exc})")
                    self.connected.set()  # wake the waiters: they find ``gone``
                    return
                continue
            if data:
                self.last_rx_s = time.monotonic()
                if self.raw_log is not None:
                    self.raw_log.rx(data)
                self._on_bytes(data)

    def _lost(self, exc: BaseException) -> None:
        self.event(f"port lost: {exc}")
        self.connected.clear()
        self._on_lost(exc)
        self._quietly(self._serial.close)

    def _reopen(self) -> bool:
        deadline = time.monotonic() + self.reconnect_timeout_s
        delay_s = RECONNECT_FIRST_DELAY_S
        while time.monotonic() < deadline:
            if self._closing.wait(min(delay_s, max(0.0, deadline - time.monotonic()))):
                return False
            try:
                port = self._open()
            except (*PORT_ERRORS, ValueError) as exc:
                self.event(f"reopen failed: {exc}")
                delay_s = min(delay_s * 2, RECONNECT_MAX_DELAY_S)
                continue
            self._serial = port
            self._write_failed.clear()
            self.reconnects += 1
            self.event(f"reopened {self.url}")
            self._on_reopened()
            self.connected.set()
            return True
        return False
