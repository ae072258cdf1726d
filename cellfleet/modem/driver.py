"""A dependable AT driver for real modems over pyserial (issue 5 §3).

:class:`ModemDriver` opens any ``serial.serial_for_url`` URL (``/dev/ttyUSB2``,
``/dev/serial/by-id/…``, ``spy:///dev/ttyUSB2``, ``socket://host:port``, ``rfc2217://…``,
``loop://``) and copes with what real modules do (reference ``at-commands.md`` §8):

* one command at a time (§8.17): commands are serialised by a lock;
* a reader thread feeds :class:`~cellfleet.modem.responses.ResponseReader`, which removes the echo
  (§8.1) and recognises URCs wherever they appear, also mid-response (§8.2); URCs go to
  subscribers (:meth:`subscribe`, :meth:`wait_urc`), everything else to the pending command;
* :meth:`sync` is the lab routine: ``ESC CR`` (aborts a pending prompt, 27.005 §3.5.1), ``ATQ0``
  until ``OK`` (a bare ``AT`` never answers on a modem a previous client left in ``ATQ1``,
  V.250 §6.2.5; ``Q0`` is in effect by the time its own result is formatted), then ``ATE0``,
  ``ATV1``, ``AT+CMEE=1`` (V.250 §6.2.4, §6.2.6; 27.007 §9.1);
* a command that times out is abandoned deliberately: ``ESC`` aborts it (V.250 §5.6.1: any
  character aborts an abortable command, which then answers with a final result; 27.005 §3.5.1:
  ESC cancels a prompt; a modem that is idle ignores it, V.250 §5.2.1), and the next command
  waits for that late final, or for a quiet port, so the late final never answers it;
* per-command timeouts from :class:`~cellfleet.modem.timeouts.TimeoutTable` (§8.3);
* ``+CME ERROR: 14`` (SIM busy, 27.007 §9.2) and vendor ``515`` (please wait) are retried with
  back-off a bounded number of times, as python-gsmmodem does (§2);
* when the port fails (EIO, pyserial's "device reports readiness to read but returned no data",
  a vanished device after USB re-enumeration, §8.5) the command in flight gets
  :class:`~cellfleet.modem.errors.PortGone`; the driver reopens the same URL with back-off for
  up to ``reconnect_timeout_s``, re-syncs and re-applies the URC settings set through it;
* every byte in both directions can go to a :class:`~cellfleet.modem.rawlog.RawLog`.

The port itself (open, exclusive lock, reader thread, reopening) is
:class:`~cellfleet.modem.driver_port.ReconnectingPort`; URC subscribers and waits are
:class:`~cellfleet.modem.driver_urcs.UrcHub`; prompt payload rules are in
:mod:`~cellfleet.modem.driver_prompts`; which incoming line goes to the command in flight and
which to the URC subscribers is decided in :mod:`~cellfleet.modem.driver_demux`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Self

from cellfleet.modem.driver_demux import PendingCommand, Response, route_event
from cellfleet.modem.driver_port import ReconnectingPort
from cellfleet.modem.driver_prompts import (
    CTRL_Z,
    ESC,
    check_payload,
    parse_line,
    wants_ctrl_z,
)
from cellfleet.modem.driver_urcs import (
    URC_WAIT_TIMEOUT_S,
    Subscription,
    UrcHub,
    UrcRecord,
    remember_urc_settings,
)
from cellfleet.modem.errors import (
    AtError,
    AtTimeout,
    CmeException,
    CommandFailed,
    PortGone,
    exception_for_final,
)
from cellfleet.modem.rawlog import RawLog
from cellfleet.modem.responses import ResponseReader
from cellfleet.modem.timeouts import TimeoutTable

CR = b"\r"
"""Ends a command line (V.250 §5.2.1, S3)."""

SIM_BUSY_CODES = frozenset({14, 515})
"""``+CME ERROR`` codes retried: 14 SIM busy (27.007 §9.2), 515 "please wait, init or command in
progress" (vendor; python-gsmmodem retries both)."""

AT_SYNC_TRIES, AT_SYNC_TRY_TIMEOUT_S = 5, 1.0
"""ModemManager sends ``AT`` up to 20 times (3 s each) when probing, Zephyr 4 times (§3);
autobauding modules need several before they lock (§8.4)."""
SYNC_PROBE = "ATQ0"
"""The sync probe: ``AT`` with result codes switched on (V.250 §6.2.5), so a modem left in
``ATQ1`` answers too."""
QUIET_S, QUIET_MAX_S = 0.1, 1.0
"""Before a command that follows a timeout or an ``ESC``, wait until the port has been quiet for
``QUIET_S`` (at most ``QUIET_MAX_S``): a late final result must not answer the next command."""
ORPHAN_QUIET_S = 0.5
"""While the final of an abandoned command is still due, the port must be quiet this long (from
the abort on) before the next command goes out: time for the modem to answer the abort."""
PROMPT_TIMEOUT_S = 5.0
"""How long :meth:`ModemDriver.command_with_prompt` waits for the prompt (python-gsmmodem: 5 s)."""
SIM_BUSY_MAX_BACKOFF_S = 4.0
"""The longest pause between two tries of a command answered with SIM busy."""
AT_PROMPT_DELAY_S = 0.05
"""u-blox SARA AT manual (+USOWR binary mode): wait at least 50 ms after ``@`` before the data."""


def _command_line(line: str) -> str:
    """``+CGMI`` -> ``AT+CGMI``; a line that starts with ``AT`` (any case) or is ``A/`` is kept."""
    text = line.strip()
    return text if text[:2].upper() in ("AT", "A/") else f"AT{text}"


class ModemDriver:
    """An AT command channel to one modem; see the module docstring. Use as a context manager
    or call :meth:`close`."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        exclusive: bool = True,
        timeouts: TimeoutTable | None = None,
        raw_log: RawLog | None = None,
        reconnect: bool = True,
        reconnect_timeout_s: float = 30.0,
        sim_busy_retries: int = 5,
        sim_busy_backoff_s: float = 0.5,
        urc_prefixes: Iterable[str] | None = None,
    ) -> None:
        self.url, self.baudrate, self.exclusive = url, baudrate, exclusive
        self.timeouts = timeouts or TimeoutTable()
        self.raw_log = raw_log
        self.reconnect, self.reconnect_timeout_s = reconnect, reconnect_timeout_s
        self.sim_busy_retries, self.sim_busy_backoff_s = sim_busy_retries, sim_busy_backoff_s
        self._urc_prefixes = tuple(urc_prefixes) if urc_prefixes is not None else None
        self._command_lock = threading.RLock()  # one command at a time (§8.17)
        self._lock = threading.Lock()  # the pending command and the reader, shared with the reader thread
        self._pending: PendingCommand | None = None
        self._orphan: PendingCommand | None = None  # abandoned, its late final still due
        self._reader = self._new_reader()
        self.urcs = UrcHub()
        """Subscribers and history of this driver's URCs."""
        self._urc_settings: dict[str, str] = {}
        self._closing = False
        self._resync_needed = False
        self._stale, self._stale_since_s = False, 0.0
        try:
            self._port = ReconnectingPort(
                url, baudrate=baudrate, exclusive=exclusive, raw_log=raw_log, reconnect=reconnect,
                reconnect_timeout_s=reconnect_timeout_s, on_bytes=self._on_bytes, on_lost=self._on_lost,
                on_reopened=self._on_reopened,
            )  # fmt: skip
        except BaseException:
            self.urcs.close()
            raise

    @property
    def reconnects(self) -> int:
        """How many times the port was reopened after a loss."""
        return self._port.reconnects

    # ---------------------------------------------------------------- public API

    def command(self, line: str, *, timeout_s: float | None = None) -> Response:
        """Send one command line (``AT`` prepended when missing) and return its response.

        Raises :class:`CmeException` / :class:`CmsException` / :class:`CommandFailed` for error
        finals, :class:`AtTimeout` when no final arrives in time (``timeout_s``, else the
        :class:`TimeoutTable` value), :class:`PortGone` when the port fails meanwhile.
        """
        line = _command_line(line)
        with self._command_lock:
            self._ensure_ready()
            for attempt in range(self.sim_busy_retries + 1):
                try:
                    response = self._exchange(line, timeout_s)
                except CmeException as exc:
                    if exc.code not in SIM_BUSY_CODES or attempt == self.sim_busy_retries:
                        raise
                    self._port.event(f"SIM busy ({exc.code}), retry {attempt + 1} of {line}")
                    time.sleep(min(self.sim_busy_backoff_s * 2**attempt, SIM_BUSY_MAX_BACKOFF_S))
                    continue
                self._remember_settings(line)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    def command_with_prompt(
        self,
        line: str,
        payload: bytes,
        *,
        timeout_s: float | None = None,
        prompt_timeout_s: float = PROMPT_TIMEOUT_S,
        ctrl_z: bool | None = None,
    ) -> Response:
        """Send a command that answers with a prompt (``> `` or ``@``), then ``payload``.

        ``ctrl_z`` (default: decided by the command) appends Ctrl-Z: yes for ``+CMGS`` /
        ``+CMGW`` / ``+CMGC`` (27.005 §3.5.1, §3.5.3, §3.5.5; §4.3–§4.5) and for Quectel
        ``+QISEND=<id>`` without a length (BG96 TCP/IP note §2.2.7); no for length-counted sends
        (``+QISEND=<id>,<len>``, u-blox ``+USOWR`` / ``+USOST`` with the ``@`` prompt), whose
        payload must have exactly the declared length (``ValueError`` otherwise). When no prompt
        arrives within ``prompt_timeout_s`` (python-gsmmodem waits 5 s), ``ESC`` is sent to
        cancel and :class:`AtTimeout` raised. A command not in
        :data:`~cellfleet.modem.responses.PROMPT_COMMANDS` may answer with ``>`` or ``@``.
        """
        line = _command_line(line)
        use_ctrl_z = wants_ctrl_z(line) if ctrl_z is None else ctrl_z
        check_payload(line, payload, use_ctrl_z)
        with self._command_lock:
            self._ensure_ready()
            pending = self._start(line, prompts=">@")
            if not pending.progress.wait(prompt_timeout_s):
                self._abandon(pending)  # ESC cancels the prompt, if it comes late (27.005 §3.5.1)
                raise AtTimeout(line, prompt_timeout_s)
            if pending.prompt is None:  # a final result instead of the prompt
                return self._finish(pending, prompt_timeout_s)
            if pending.prompt == "@":
                time.sleep(AT_PROMPT_DELAY_S)
            data = bytes(payload) + (CTRL_Z if use_ctrl_z else b"")
            with self._lock:
                self._reader.payload_sent(data)
            self._port.write(data)
            return self._finish(pending, timeout_s or self.timeouts.timeout_for(line))

    def sync(self, *, tries: int = AT_SYNC_TRIES, try_timeout_s: float = AT_SYNC_TRY_TIMEOUT_S) -> None:
        """The lab routine (reference §8): ``ESC CR``, ``ATQ0`` until ``OK`` (up to ``tries``),
        then ``ATE0``, ``ATV1``, ``AT+CMEE=1``. Raises :class:`AtTimeout` when ``ATQ0`` never
        gets an answer."""
        with self._command_lock:
            self._ensure_ready(resync=False)
            self._sync_unlocked(tries, try_timeout_s)

    def subscribe(self, prefix: str, callback: Callable[[str], None]) -> Subscription:
        """Call ``callback(line)`` (on the URC thread) for every URC starting with ``prefix``
        (``""``: all); lines that arrive while no command is pending count as URCs too."""
        return self.urcs.subscribe(prefix, callback)

    def urc_mark(self) -> int:
        """Number of the last URC received; pass it as ``after`` to :meth:`wait_urc_record` to
        accept URCs from that moment on (e.g. from before the command that triggers them)."""
        return self.urcs.mark()

    def wait_urc(self, prefix: str, timeout_s: float) -> str:
        """Wait for the next URC starting with ``prefix``; :class:`AtTimeout` after ``timeout_s``."""
        return self.urcs.wait(prefix, timeout_s).text

    def wait_urc_record(
        self, prefix: str = "", timeout_s: float = URC_WAIT_TIMEOUT_S, *, pattern: str | None = None, after: int | None = None
    ) -> UrcRecord:
        """:meth:`UrcHub.wait`: a URC after mark ``after`` with ``prefix`` (and regex ``pattern``)."""
        return self.urcs.wait(prefix, timeout_s, pattern=pattern, after=after)

    def close(self) -> None:
        """Stop the reader, close the port; a command still waiting gets :class:`PortGone`."""
        if self._closing:
            return
        self._closing = True
        self._port.close()
        with self._lock:
            self._fail_pending(PortGone(f"{self.url}: driver closed"))
        self.urcs.close()
        self._port.event("closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- commands

    def _ensure_ready(self, *, resync: bool = True) -> None:
        if self._closing:
            raise PortGone(f"{self.url}: driver closed")
        port = self._port
        if not port.connected.is_set() and not (self.reconnect and port.connected.wait(self.reconnect_timeout_s)):
            raise port.gone or PortGone(f"{self.url}: port is gone")
        if port.gone is not None:
            raise port.gone
        if resync and self._resync_needed:
            self._resync()

    def _start(self, line: str, *, prompts: str = "") -> PendingCommand:
        if self._stale:
            self._settle()
        pending = PendingCommand(line)
        with self._lock:
            if not self._port.connected.is_set() or self._port.gone is not None:
                raise self._port.gone or PortGone(f"{self.url}: port is gone")
            self._pending = pending
            self._reader.command_sent(line, prompts=prompts)
        self._port.write(line.encode("ascii") + CR)
        return pending

    def _exchange(self, line: str, timeout_s: float | None = None) -> Response:
        pending = self._start(line)
        timeout_s = timeout_s or self.timeouts.timeout_for(line)
        if not pending.progress.wait(timeout_s):
            self._abandon(pending)
            raise AtTimeout(line, timeout_s)
        if pending.prompt is not None and not pending.done.is_set():
            # A prompt nobody will answer would block the modem: ESC cancels it (27.005 §3.5.1).
            self._abandon(pending)
            raise AtError(f"{line}: the modem answered with a prompt; use command_with_prompt")
        return self._finish(pending, timeout_s)

    def _finish(self, pending: PendingCommand, timeout_s: float) -> Response:
        if not pending.done.wait(timeout_s):
            self._abandon(pending)
            raise AtTimeout(pending.line, timeout_s)
        if pending.error is not None:
            raise pending.error
        final = pending.final
        assert final is not None
        if final.ok:
            return Response(list(pending.lines), final.text, bytes(pending.data))
        raise exception_for_final(pending.line, final.text)

    def _abandon(self, pending: PendingCommand) -> None:
        """Give up on ``pending`` (no final or prompt in time) and abort it with ``ESC``: V.250
        §5.6.1 lets any character abort an abortable command, which then answers with a final
        result code; 27.005 §3.5.1 has ESC cancel a prompt; an idle modem ignores characters
        before ``AT`` (V.250 §5.2.1). Its late final is then awaited (:meth:`_settle`) instead of
        being taken for the answer of the next command, whose first byte would abort it too."""
        with self._lock:
            if self._pending is pending:
                self._pending = None
                if not pending.done.is_set():
                    self._orphan = pending  # the reader keeps it pending until its final
        try:
            self._port.write(ESC)
        except AtError as exc:  # the port failed; the next command reports it
            self._port.event(f"abort of {pending.line} not sent: {exc}")
        self._mark_stale()

    def _settle(self) -> None:
        """Before the next command: wait for the abandoned command's final (a quiet port for
        ``ORPHAN_QUIET_S``), then for ``QUIET_S`` of quiet, ``QUIET_MAX_S`` at most."""
        started = time.monotonic()
        while time.monotonic() - started < QUIET_MAX_S:
            orphan = self._orphan
            quiet_s = ORPHAN_QUIET_S if orphan is not None and not orphan.done.is_set() else QUIET_S
            if time.monotonic() - max(self._port.last_rx_s, self._stale_since_s) >= quiet_s:
                break
            time.sleep(QUIET_S / 4)
        with self._lock:
            orphan, self._orphan = self._orphan, None
            if orphan is not None and not orphan.done.is_set():
                self._reader.abandon()  # no final came: keep the reader in step with the driver
                self._port.event(f"no final result for abandoned {orphan.line}")
        self._stale = False

    def _mark_stale(self) -> None:
        """Something may still answer (a timed-out command, an aborted one, ESC at a prompt)."""
        self._stale, self._stale_since_s = True, time.monotonic()

    def _sync_unlocked(self, tries: int, try_timeout_s: float) -> None:
        # ESC cancels a pending prompt (27.005 §3.5.1) and, like any byte, aborts a running
        # abortable command (V.250 §5.6.1); either may still answer, so wait for quiet first.
        self._port.write(ESC + CR)
        self._mark_stale()
        last: AtError | None = None
        for _ in range(max(1, tries)):
            try:
                self._exchange(SYNC_PROBE, try_timeout_s)
                break
            except (AtTimeout, CommandFailed) as exc:  # maybe a late answer: quiet first
                last = exc
                self._mark_stale()
        else:
            assert last is not None
            raise last
        for line in ("ATE0", "ATV1", "AT+CMEE=1"):
            self._exchange(line)
        self._resync_needed = False

    def _resync(self) -> None:
        """After a reconnect: sync, then re-apply the URC settings made through this driver."""
        self._sync_unlocked(AT_SYNC_TRIES, AT_SYNC_TRY_TIMEOUT_S)
        for setting in list(self._urc_settings.values()):
            try:
                self._exchange(f"AT{setting}")
            except AtError as exc:
                self._port.event(f"re-applying {setting} failed: {exc}")
        self._port.event("re-synced")

    def _remember_settings(self, line: str) -> None:
        remember_urc_settings(self._urc_settings, parse_line(line))

    # ---------------------------------------------------------------- port events

    def _new_reader(self) -> ResponseReader:
        return ResponseReader(urc_prefixes=self._urc_prefixes)  # None: the default prefixes

    def _on_lost(self, exc: BaseException) -> None:
        with self._lock:
            self._fail_pending(PortGone(f"{self.url}: port lost ({exc})"))

    def _on_reopened(self) -> None:
        """A new port (maybe a rebooted modem): fresh reader state, then re-sync in the background."""
        with self._lock:
            self._reader = self._new_reader()
            self._resync_needed = True
        threading.Thread(target=self._resync_in_background, name="at-resync", daemon=True).start()

    def _resync_in_background(self) -> None:
        with self._command_lock:
            try:
                self._ensure_ready()  # waits for the port, then re-syncs
            except AtError as exc:  # the next command tries again
                self._port.event(f"re-sync failed: {exc}")

    def _fail_pending(self, error: AtError) -> None:
        pending, self._pending, self._orphan = self._pending, None, None
        if pending is not None:
            pending.fail(error)

    # ---------------------------------------------------------------- demultiplexing

    def _on_bytes(self, data: bytes) -> None:
        with self._lock:
            for event in self._reader.feed(data):
                target = self._pending or self._orphan  # the orphan's late lines are dropped
                if route_event(event, target, self.urcs, self.url):
                    if target is self._orphan and target.final is not None:
                        self._port.event(f"late final {target.final.text!r} of abandoned {target.line}")
                    self._pending = self._orphan = None  # its final result arrived
