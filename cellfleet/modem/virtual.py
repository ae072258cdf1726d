"""A virtual modem with no I/O: bytes in, bytes out, simulated seconds passed in.

:class:`VirtualModem` is the terminal adaptor of a simulated module: it echoes what the host
types (V.250 §6.2.4, byte by byte, at once), runs command lines through the handler registry
(:mod:`cellfleet.modem.cmd_registry`, handlers in ``cmd_*.py`` and ``sockets*.py``), formats responses (V.250 §5.7,
:mod:`cellfleet.modem.codec`), and writes URCs when the simulated device's registration changes
(27.007 §7.2 / §10.1.20 / §10.1.22), packet events happen (§10.1.19) or SMS arrive (27.005
§3.4.1). The caller owns time: ``receive`` / ``advance`` are given the simulated second they
happen at, ``next_due_s`` says when the modem next wants to act, ``take_output`` collects what
it wrote.

Rules encoded here:

* **Latency and abort** (execution in :mod:`cellfleet.modem.cmd_line`). A command's final
  result waits its simulated latency (profile table × ``latency_scale``; a command the TA
  rejects is answered at once). V.250 §5.6.1: commands "explicitly noted in the description"
  as abortable (``Profile.abortable_commands``: +COPS test and set, +CGATT, +CGACT, u-blox
  +USOCO) are aborted by a character from the host meanwhile: ERROR (reference §8.17), then the
  character is ordinary input. Input during any other command is queued and processed after
  its final result (a +CMGS is never answered ERROR after its message went out). The LF of the
  CR LF that ended the line never aborts, whenever it arrives (``CommandLineReader`` rule). The
  effect is applied when the command starts, so an aborted ``+COPS=1`` has still selected.
* **S-registers.** S3 and S5 (V.250 §6.2.1, §6.2.3) are the reader's terminator and editing
  character from the command after the one that sets them (also after ATZ, AT&F and a
  reboot); S3 and S4 (§6.2.1, §6.2.2) frame every response, from that command's own result on.
* **URC buffering.** URCs that fall due while a command line runs are held until its final
  result (27.005 +CNMI ``<bfr>``, reference §8.2) — ``urc_mode="buffer"``, which also holds them
  while the host is typing a line (one that has started with ``AT``), so they never land
  between the echoed bytes of a command (reference §7); the fault mode
  ``urc_mode="interleave"`` writes them between the command's information lines and its final
  result instead.
* **Sleep.** While ``device.asleep(now_s)`` the modem ignores input (no echo) and writes nothing;
  what it would have written comes out when it wakes.
* **Power.** Input before ``power_on`` or during the ``boot_s`` seconds of a boot is ignored
  (reference §8.4). ``power_on`` on a running modem reboots it (state.py says what survives);
  ``power_off`` switches it off. Before a reboot or power-off the ``@before_reboot`` hooks run
  (open socket connections are billed, ``sockets_net``). For a server: ``takes_input`` says
  whether bytes are received now, ``boot_count`` counts boots (a reset command, 27.007 §8.2
  ``+CFUN=1,1``, adds one) and ``take_output_by_boot`` cuts the output where the modem reset,
  so the reset's ``OK`` and the boot URCs can go to different ptys (reference §8.5).
* **Detach of the host.** ``host_detached`` drops a half-typed command line and input queued
  behind a running command (its answers would go to the next client); a pending SMS prompt
  stays pending, as on a real module (the next client sends ESC, as gammu does).
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import pkgutil
from datetime import UTC, datetime, timedelta
from typing import Literal

from cellfleet.modem import cmd_sms
from cellfleet.modem.cmd_line import CommandLineRunner, LineRun
from cellfleet.modem.cmd_registry import (
    Line,
    UrcAction,
    network_watchers,
    reboot_hooks,
    registered_names,
)
from cellfleet.modem.codec import CommandLineReader
from cellfleet.modem.device import (
    NOT_REGISTERED,
    DeviceBackend,
    Registration,
    StaticDevice,
)
from cellfleet.modem.profiles import Profile, get_profile
from cellfleet.modem.state import ModemState, SmsStore

#: Modules whose import registers command handlers and network watchers: every
#: ``cmd_*.py`` and ``sockets*.py`` of this package, in name order (the order watchers run in).
HANDLER_MODULE_PREFIXES = ("cmd_", "sockets")
#: +CCLK's clock at simulated time 0 unless told otherwise.
DEFAULT_CLOCK_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _load_handlers() -> None:
    package = importlib.import_module("cellfleet.modem")
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith(HANDLER_MODULE_PREFIXES))
    for name in names:
        importlib.import_module(f"cellfleet.modem.{name}")


_load_handlers()


class VirtualModem(CommandLineRunner):
    """A simulated module's AT interface (module docstring)."""

    def __init__(
        self,
        profile: str | Profile = "generic",
        device: DeviceBackend | None = None,
        *,
        latency_scale: float = 1.0,
        boot_s: float = 0.0,
        urc_mode: Literal["buffer", "interleave"] = "buffer",
        clock_epoch: datetime = DEFAULT_CLOCK_EPOCH,
    ) -> None:
        if urc_mode not in ("buffer", "interleave"):
            raise ValueError(f"urc_mode is 'buffer' or 'interleave', got {urc_mode!r}")
        if latency_scale < 0 or boot_s < 0:
            raise ValueError("latency_scale and boot_s must be >= 0")
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.device: DeviceBackend = device if device is not None else StaticDevice()
        self.latency_scale = latency_scale
        self.boot_s = boot_s
        self.urc_mode = urc_mode
        self.clock_epoch = clock_epoch
        self.state = ModemState(sms=SmsStore(dict(self.profile.sms_capacity)))
        self._reader = CommandLineReader()
        self._input = bytearray()
        self._out = bytearray()  # written during the current boot
        self._out_earlier: list[tuple[int, bytes]] = []  # (boot, bytes) of earlier boots, not taken yet
        self._boots = 0
        self._asleep_out: list[bytes] = []
        self._urcs: list[Line] = []
        self._timers: list[tuple[float, int, UrcAction]] = []
        self._seq = itertools.count()
        self._line: LineRun | None = None
        self._payload_left: int | None = None
        self._boot_due_s: float | None = None
        self._reboot_requested = False
        self._view: Registration = NOT_REGISTERED
        self._next_change_s: float | None = None
        self._radio_on: bool | None = None
        self._clock_s = float("-inf")
        #: SMS indications held by +CNMI mode 0 (27.005 §3.4.1), MT SMS waiting for service
        self.cnmi_buffer: list[Line] = []
        self.undelivered_sms: list[tuple[str, str]] = []
        #: MT SMS the device's network sends at given simulated times (a scenario device's
        #: ``mt_sms``, :mod:`cellfleet.modem.sim_device`); they arrive whatever the modem does
        self._network_sms = sorted((sms.at_s, sms.sender, sms.text) for sms in getattr(self.device, "mt_sms", ()))
        self._network_sms.reverse()  # popped from the end, earliest first

    # ===================================================================== public interface
    def power_on(self, now_s: float) -> None:
        """Boot (or reboot): boot URCs after ``boot_s`` simulated seconds. The network's MT SMS
        due before the modem was first switched on are not replayed."""
        self._at(now_s)
        while self._network_sms and self._network_sms[-1][0] < now_s:
            self._network_sms.pop()
        now_s = self._clock_s
        self._reboot(now_s)
        self._flush(now_s)

    def receive(self, data: bytes, now_s: float) -> None:
        """Bytes from the host at ``now_s``."""
        self.advance(now_s)
        now_s = self._clock_s
        if not self.takes_input(now_s):
            return  # powered off, booting or asleep: the bytes are lost
        self._input += data
        self._consume_input(now_s)  # cmd_line.py: echo, parse, execute, abort or queue
        self._flush(now_s)

    def advance(self, now_s: float) -> None:
        """Simulated time is ``now_s``: do what fell due (in time order). Time never runs
        backwards: an earlier ``now_s`` than already seen counts as the time already seen."""
        now_s = max(now_s, self._clock_s)
        while True:
            due = self._next_event_s()
            if due is None or due > now_s:
                break
            self._at(due)
            self._run_due(due)
        self._at(now_s)
        self._flush(now_s)

    def take_output(self) -> bytes:
        """Everything written since the last call, in order."""
        return b"".join(data for _boot, data in self.take_output_by_boot())

    def take_output_by_boot(self) -> list[tuple[int, bytes]]:
        """What ``take_output`` returns, cut where the modem rebooted: ``(boot, bytes)`` pairs in
        order, ``boot`` being the ``boot_count`` the bytes were written in. A server that
        re-enumerates the port on a reset (reference §8.5) writes the bytes of an earlier boot
        (the reset command's ``OK``) to the old port and the rest (boot URCs) to the new one."""
        chunks, self._out_earlier = self._out_earlier, []
        if self._out:
            chunks.append((self._boots, bytes(self._out)))
            self._out.clear()
        return chunks

    @property
    def boot_count(self) -> int:
        """Boots started so far: 1 after the first ``power_on``, one more for every reboot
        (``power_on`` again, a reset command such as 27.007 §8.2 ``+CFUN=1,1``). A server
        compares it with the count it last saw to learn that the module reset."""
        return self._boots

    def takes_input(self, now_s: float) -> bool:
        """Whether bytes from the host at ``now_s`` are received: powered, not booting (reference
        §8.4: input during boot is ignored) and not asleep (§8.11). A server that follows the
        conversation (``pty_port.SessionTracker``) skips the bytes the modem drops."""
        return self.state.powered and self._boot_due_s is None and not self.device.asleep(now_s)

    def next_due_s(self) -> float | None:
        """Simulated time of the modem's next own action, None if idle."""
        return self._next_event_s()

    def inject_sms(self, sender: str, text: str, now_s: float) -> None:
        """A mobile-terminated SMS from ``sender`` arrives (stored and announced per +CNMI); it
        waits for network service if the device has none."""
        self.advance(now_s)
        now_s = self._clock_s
        self._receive_sms(sender, text, now_s)
        self._flush(now_s)

    def host_detached(self, now_s: float) -> None:
        """The client closed the port: a half-typed command line is dropped, state persists."""
        self.advance(now_s)
        self._input.clear()
        if not self._reader.in_payload:
            self._reader = CommandLineReader()
            self._apply_s_registers()
        self._flush(self._clock_s)  # URCs held for the half-typed line go now

    def power_off(self, now_s: float) -> None:
        """The module is switched off (or its server stops): the ``@before_reboot`` hooks run
        (open TCP connections are billed), volatile state is lost, input is ignored until
        ``power_on``. Output already written stays in ``take_output``."""
        self.advance(now_s)
        if self.state.powered:
            self._shut_down(self._clock_s)
            self.state.powered = False

    # ===================================================================== for handlers
    def queue_urc(self, text: Line) -> None:
        """A URC: written when no command line runs (after the final result)."""
        self._urcs.append(text)

    def schedule(self, at_s: float, action: UrcAction) -> None:
        heapq.heappush(self._timers, (at_s, next(self._seq), action))

    def request_reboot(self) -> None:
        """Reboot once the current command line has answered (+CFUN=1,1 and the like)."""
        self._reboot_requested = True

    def sim_state(self) -> str:
        """27.007 §8.3 +CPIN code: READY, SIM PIN, SIM PUK, or NOT INSERTED; "SIM BLOCKED" once
        the PUK attempts are used up too (TS 31.101 / ETSI TS 102 221 §9.5: 10 of them; +CPIN
        has no code for it, the ME answers CME 13 "SIM failure", 27.007 §9.2.1)."""
        if not self.device.iccid:
            return "NOT INSERTED"
        if self.device.sim_pin is None or self.state.sim_unlocked:
            return "READY"
        if self.state.pin_attempts_left > 0:
            return "SIM PIN"
        return "SIM PUK" if self.state.puk_attempts_left > 0 else "SIM BLOCKED"

    def clock(self, now_s: float) -> datetime:
        """The module's clock (UTC) at simulated ``now_s`` (+CCLK, SMS time stamps)."""
        return self.clock_epoch + timedelta(seconds=now_s + self.state.clock_offset_s)

    def network_view(self, now_s: float) -> Registration:
        """What the modem reports: the device's registration while its radio is on."""
        if not self._radio_effective():
            return NOT_REGISTERED
        return self.device.registration(now_s)

    def sync_network(self, now_s: float) -> None:
        """Tell the device about radio changes and report registration changes (URCs)."""
        if not self.state.powered:
            return
        radio = self._radio_effective()
        if radio != self._radio_on:
            self._radio_on = radio
            self.device.radio(radio, now_s)
        old, new = self._view, self.network_view(now_s)
        if new != old:
            self._view = new
            for watcher in network_watchers():
                for text in watcher(self, old, new, not radio, now_s):
                    self.queue_urc(text)
            if new.registered and self.undelivered_sms:
                waiting, self.undelivered_sms = self.undelivered_sms, []
                for sender, text in waiting:
                    self._deliver_sms(sender, text, now_s)
        nxt = self.device.next_change_s(now_s)
        self._next_change_s = nxt if nxt is not None and nxt > now_s else None

    @property
    def view(self) -> Registration:
        """The registration last reported (what the URCs said)."""
        return self._view

    @property
    def supported_commands(self) -> list[str]:
        """Commands this modem answers (+CLAC): the profile's, with a handler."""
        return sorted(self.profile.commands & registered_names())

    # ===================================================================== internals
    def _radio_effective(self) -> bool:
        s = self.state
        return (
            s.powered
            and self._boot_due_s is None
            and s.cfun == 1
            and self.sim_state() == "READY"
            and s.cops_mode != 2
            and not s.ps_detached
        )

    def _apply_s_registers(self) -> None:
        """S3 / S5 (V.250 §6.2.1 / §6.2.3) become the reader's terminator / editing character."""
        registers = self.state.settings.s_registers
        self._reader.terminator = registers[3]
        self._reader.backspace = registers[5]

    def _at(self, now_s: float) -> None:
        self._clock_s = max(self._clock_s, now_s)

    def _next_event_s(self) -> float | None:
        times = [self._boot_due_s, self._next_change_s]
        if self._line is not None:
            times.append(self._line.due_s)
        if self._timers:
            times.append(self._timers[0][0])
        if self._network_sms:
            times.append(self._network_sms[-1][0])
        live = [t for t in times if t is not None]
        return min(live) if live else None

    def _run_due(self, t: float) -> None:
        if self._boot_due_s is not None and self._boot_due_s <= t:
            self._boot(t)
        line = self._line
        if line is not None and line.due_s is not None and line.due_s <= t:
            reply, line.pending, line.due_s = line.pending, None, None
            assert reply is not None
            if self._finish(reply, t):
                self._run_line(t)
            if self._line is None or self._line.pending is None:
                self._consume_input(t)  # what the host sent meanwhile (V.250 §5.6.1)
        while self._timers and self._timers[0][0] <= t:
            _, _, action = heapq.heappop(self._timers)
            for text in action(t):
                self.queue_urc(text)
        if self._next_change_s is not None and self._next_change_s <= t:
            self._next_change_s = None
            self.sync_network(t)
        while self._network_sms and self._network_sms[-1][0] <= t:
            _, sender, text = self._network_sms.pop()
            self._receive_sms(sender, text, t)
        self._flush(t)

    # ----------------------------------------------------------------- power
    def _shut_down(self, now_s: float) -> None:
        """Everything volatile goes (after the ``@before_reboot`` hooks had their look)."""
        if self.state.powered:
            for hook in reboot_hooks():
                hook(self, now_s)
        if self._radio_on:
            self._radio_on = False
            self.device.radio(False, now_s)
        self._view = NOT_REGISTERED  # a restarted modem has reported nothing yet
        self.state.reboot()
        self._reader = CommandLineReader()
        self._apply_s_registers()  # the stored profile's S3/S5
        self._input.clear()
        self._line = None
        self._payload_left = None
        self._urcs.clear()
        self._timers.clear()
        self._reboot_requested = False

    def _reboot(self, now_s: float) -> None:
        self._shut_down(now_s)
        if self._out:  # written before the reset (its OK): ``take_output_by_boot`` keeps it apart
            self._out_earlier.append((self._boots, bytes(self._out)))
            self._out.clear()
        self._boots += 1
        self.state.powered = True
        self._boot_due_s = now_s + self.boot_s
        if self.boot_s == 0:
            self._boot(now_s)

    def _boot(self, now_s: float) -> None:
        self._boot_due_s = None
        urcs = list(self.profile.boot_urcs)
        sim = self.sim_state()
        if sim == "READY":
            urcs += self.profile.sim_ready_urcs
        elif sim in ("SIM PIN", "SIM PUK"):
            urcs += [f"+CPIN: {sim}" if line.startswith("+CPIN") else line for line in self.profile.sim_locked_urcs]
        for text in urcs:
            self.queue_urc(text)
        self.sync_network(now_s)

    # ----------------------------------------------------------------- output
    def _urcs_may_go(self) -> bool:
        """No command line runs and, in buffer mode, the host is not typing one (module
        docstring: a URC never lands between the echoed bytes of a command line)."""
        return self._line is None and not (self.urc_mode == "buffer" and self._reader.holds_command_prefix)

    def _write_urcs(self, now_s: float) -> None:
        urcs, self._urcs = self._urcs, []
        for text in urcs:
            body = text.decode("latin-1") if isinstance(text, bytes) else text
            self._emit(self._format_line(body), now_s)

    def _flush(self, now_s: float) -> None:
        """Write held URCs when they may go; release output held during sleep."""
        if self._urcs_may_go():
            self._write_urcs(now_s)
        if self._asleep_out and not self.device.asleep(now_s):
            for chunk in self._asleep_out:
                self._out += chunk
            self._asleep_out.clear()

    def _emit(self, data: bytes, now_s: float) -> None:
        if self.device.asleep(now_s):
            self._asleep_out.append(data)
        else:
            self._out += data

    def _receive_sms(self, sender: str, text: str, now_s: float) -> None:
        if self._view.registered:
            self._deliver_sms(sender, text, now_s)
        else:
            self.undelivered_sms.append((sender, text))

    def _deliver_sms(self, sender: str, text: str, now_s: float) -> None:
        for urc in cmd_sms.deliver(self, sender, text, now_s):
            if self.state.settings.cnmi[0] == 0:
                self.cnmi_buffer.append(urc)  # 27.005 §3.4.1 <mode> 0: buffered in the TA
            else:
                self.queue_urc(urc)
