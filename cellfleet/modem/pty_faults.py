"""What happens to a served modem's USB device, for :class:`~cellfleet.modem.pty_server.ModemServer`.

* ``inject`` / ``mute``: raw bytes to the host; a silent modem.
* ``vanish``: USB re-enumeration without a reboot (a loose cable, a hub reset; reference §8.5):
  the pty closes (the client's fd fails with EIO / hang-up), the link is removed, and ``down_s``
  wall seconds later a new pty appears under the same link and the profile's boot URCs are sent
  again; the modem's state persists.
* **Reset** (reference §8.5): a reset command (the profile's ``cfun_resets``: 27.007 §8.2
  ``AT+CFUN=1,1`` on Quectel BG96 / SIMCom, Quectel BG96 AT Commands Manual +CFUN; u-blox
  ``AT+CFUN=15`` / ``16``, SARA-R4 AT Commands Manual +CFUN) reboots the modem
  (``VirtualModem.boot_count`` goes up) and, with ``reboot_hangup`` (the default), the port
  re-enumerates as a real module's USB device does:

  1. The reset's ``OK`` is written to the old pty (or TCP connection), which hangs up once its
     client has read it (``Port.output_read``), at the latest ``REBOOT_HANGUP_WAIT_S`` wall
     seconds later, or at once with no client. Host bytes written after the ``OK`` are lost (the
     module is resetting); a driver's command in flight then fails with the hang-up.
  2. The link is removed; ``reboot_down_s`` wall seconds later a new pty appears under it.
  3. What the rebooted modem writes meanwhile, its boot URCs (reference §5; after ``boot_s``
     simulated seconds, during which it ignores input, §8.4), is kept for the new pty's first
     client (rule 2 of the ``pty_server`` docstring), or written live if it comes later.

  Without ``reboot_hangup`` the modem reboots in place: its boot URCs follow the ``OK`` on the
  same pty. Either way the port's ``SessionTracker`` starts afresh, as the modem dropped the
  lines queued behind the reset, and host bytes the modem does not take (``takes_input``:
  booting, asleep) never reach the tracker, so it stays in step with the modem's answers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from cellfleet.modem.codec import format_line
from cellfleet.modem.pty_port import Port, SessionTracker

if TYPE_CHECKING:
    from collections.abc import Callable

#: Wall seconds a reset's old pty waits at most for its client to read the reset's answer.
REBOOT_HANGUP_WAIT_S = 2.0
#: Wall seconds between looks at whether the client has read it.
HANGUP_POLL_S = 0.02
#: Wall seconds between a reset's hang-up and the new pty (``ModemServer(reboot_down_s=...)``).
REBOOT_DOWN_S = 1.0


class FaultsMixin:
    """USB-side faults and resets of ``ModemServer`` (module docstring)."""

    _ports: list[Port]
    reboot_hangup: bool
    reboot_down_s: float

    if TYPE_CHECKING:  # provided by ModemServer / SelectorLoop

        def _in_loop(self, fn: Callable[[], object]) -> None: ...
        def _emit(self, port: Port, data: bytes, *, raw: bool = False) -> None: ...
        def _open_pty(self, port: Port) -> None: ...
        def _close_pty(self, port: Port) -> None: ...
        def _drop_tcp(self, port: Port) -> None: ...
        def now_s(self) -> float: ...

    # ----------------------------------------------------------------------------- public API
    def inject(self, index: int, data: bytes) -> None:
        """Write raw ``data`` to modem ``index``'s host, bypassing the modem (and mute)."""
        self._in_loop(lambda: self._emit(self._ports[index], bytes(data), raw=True))

    def mute(self, index: int, on: bool) -> None:
        """While on, modem ``index``'s output is dropped (a silent modem); input still reaches it."""

        def apply() -> None:
            self._ports[index].muted = bool(on)

        self._in_loop(apply)

    def vanish(self, index: int, down_s: float) -> None:
        """Like USB re-enumeration: close the pty (the client gets EIO / hang-up) and remove the
        link; ``down_s`` wall seconds later a new pty appears under the same link and the profile's
        boot URCs are sent again (not a reboot: modem state persists). Unread and held output is
        lost with the old port, as a real device's buffers are."""
        self._in_loop(lambda: self._vanish(self._ports[index], float(down_s)))

    # ------------------------------------------------------------------------ for the server
    def _take_modem_output(self, port: Port) -> None:
        """Write what the modem produced, following its resets (module docstring)."""
        for boot, data in port.modem.take_output_by_boot():
            if boot > port.boot_seen:
                self._modem_reset(port, boot)
            self._emit(port, data)
        if port.modem.boot_count > port.boot_seen:
            self._modem_reset(port, port.modem.boot_count)

    def _fault_waits(self, now_wall: float) -> list[float]:
        """Wall seconds until each port's next reappearance or hang-up look."""
        waits = [p.reappear_at_wall - now_wall for p in self._ports if p.reappear_at_wall is not None]
        waits += [min(HANGUP_POLL_S, p.hangup_by_wall - now_wall) for p in self._ports if p.hangup_by_wall is not None]
        return waits

    def _run_fault_timers(self, port: Port, now_wall: float) -> None:
        hangup_by = port.hangup_by_wall
        if hangup_by is not None and (not port.attached or hangup_by <= now_wall or port.output_read()):
            self._hang_up(port)
        if port.reappear_at_wall is not None and port.reappear_at_wall <= now_wall:
            self._reappear(port)

    # ----------------------------------------------------------------------------- internals
    def _modem_reset(self, port: Port, boot: int) -> None:
        port.boot_seen = boot
        port.tracker = SessionTracker()
        if not self.reboot_hangup:
            return
        port.forget_held()  # the old port's URCs go with it
        port.resetting = True
        if port.pty is not None or port.tcp is not None:
            port.drained_polls = 0
            port.hangup_by_wall = time.monotonic() + REBOOT_HANGUP_WAIT_S

    def _hang_up(self, port: Port) -> None:
        """The reset module leaves the USB bus: the old pty and TCP connection close."""
        port.hangup_by_wall = None
        self._close_pty(port)
        self._drop_tcp(port)
        port.reappear_at_wall = time.monotonic() + self.reboot_down_s

    def _vanish(self, port: Port, down_s: float) -> None:
        self._close_pty(port)
        self._drop_tcp(port)
        port.forget_held()
        port.resetting, port.hangup_by_wall = False, None
        port.modem.host_detached(self.now_s())
        port.modem.take_output()  # written while the port is gone: lost with the device's buffers
        port.due_s = port.modem.next_due_s()
        port.reappear_at_wall = time.monotonic() + max(0.0, down_s)

    def _reappear(self, port: Port) -> None:
        """The new pty is there. After a reset the modem writes its own boot URCs (kept while the
        port was down); after ``vanish`` they are written as the module sends them after a USB
        reset (reference §5), without rebooting the modem (its state persists)."""
        port.reappear_at_wall = None
        self._open_pty(port)
        assert port.pty is not None
        if port.resetting:
            port.resetting = False
            if port.pty.live:  # no inotify: no attach to wait for
                port.send_held(port.pty)
            return
        modem, verbose = port.modem, bool(getattr(port.modem.state, "verbose", True))
        urcs = list(modem.profile.boot_urcs)
        if modem.sim_state() == "READY":
            urcs += modem.profile.sim_ready_urcs
        self._emit(port, b"".join(format_line(text, verbose=verbose) for text in urcs))
