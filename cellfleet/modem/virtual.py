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
  rejects is answered at once). V.250 §5.6.1: a character from the host during that time aborts the
  command; the modem answers the aborted command with ``ERROR`` (reference §8.17) and then
  treats the character as ordinary input, so a new command line that aborts a long one is still
  executed. The command's effect is applied when it starts (what takes time is the network's
  answer), so an aborted ``+COPS=1`` has still selected.
* **URC buffering.** URCs that fall due while a command line runs are held until its final
  result (27.005 +CNMI ``<bfr>``, reference §8.2) — ``urc_mode="buffer"``; the fault mode
  ``urc_mode="interleave"`` writes them between the command's information lines and its final
  result instead.
* **Sleep.** While ``device.asleep(now_s)`` the modem ignores input (no echo) and writes nothing;
  what it would have written comes out when it wakes.
* **Power.** Input before ``power_on`` or during the ``boot_s`` seconds of a boot is ignored
  (reference §8.4). ``power_on`` on a running modem reboots it (state.py says what survives).
* **Detach of the host.** ``host_detached`` drops a half-typed command line; a pending SMS
  prompt stays pending, as on a real module (the next client sends ESC, as gammu does).
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
    Reply,
    UrcAction,
    network_watchers,
    registered_names,
)
from cellfleet.modem.codec import (
    CommandLineReader,
    format_final,
    format_line,
    format_prompt,
)
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
_PIECE_ENDS = b"\r\n\x1a\x1b/"


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
        self._out = bytearray()
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
        if not self.state.powered or self._boot_due_s is not None or self.device.asleep(now_s):
            return  # powered off, booting or asleep: the bytes are lost
        self._reader.new_read()
        while data:
            piece, data = self._next_piece(data)
            if self._line is not None and self._line.pending is not None:
                self._abort(now_s)
            prompt = self._line.prompt if self._line is not None else None
            binary = prompt is not None and prompt.char == "@" and self._reader.in_payload
            if self.state.settings.echo and not binary:  # u-blox: "@" binary data is not echoed
                self._emit(piece, now_s)
            for event in self._reader.feed(piece):
                self._on_event(event, now_s)
            if prompt is not None and prompt.reprompt_on_cr and self._reader.in_payload and piece.endswith(b"\r"):
                self._emit(format_prompt(prompt.char), now_s)  # 27.005 §3.5.1 text mode
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
        out = bytes(self._out)
        self._out.clear()
        return out

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
        if not self._reader.in_payload:
            self._reader = CommandLineReader()

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
        """27.007 §8.3 +CPIN code: READY, SIM PIN, SIM PUK, or NOT INSERTED."""
        if not self.device.iccid:
            return "NOT INSERTED"
        if self.device.sim_pin is None or self.state.sim_unlocked:
            return "READY"
        return "SIM PIN" if self.state.pin_attempts_left > 0 else "SIM PUK"

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
    def _reboot(self, now_s: float) -> None:
        if self._radio_on:
            self._radio_on = False
            self.device.radio(False, now_s)
        self._view = NOT_REGISTERED  # a restarted modem has reported nothing yet
        self.state.reboot()
        self.state.powered = True
        self._reader = CommandLineReader()
        self._line = None
        self._payload_left = None
        self._urcs.clear()
        self._timers.clear()
        self._reboot_requested = False
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

    # ----------------------------------------------------------------- input
    def _next_piece(self, data: bytes) -> tuple[bytes, bytes]:
        """The next bytes to feed the reader: up to a line end / Ctrl-Z / ESC / ``A/``, or the
        rest of a counted payload (so a prompt can switch the reader in between)."""
        if self._payload_left is not None and self._reader.in_payload:
            n = max(self._payload_left, 1)
            self._payload_left -= min(n, len(data))
            return data[:n], data[n:]
        ends = [i for i in (data.find(bytes([b])) for b in _PIECE_ENDS) if i >= 0]
        cut = min(ends) + 1 if ends else len(data)
        if data[cut - 1 : cut + 1] == b"\r\n":
            cut += 1  # the LF of CR LF belongs to the line it ends (echoed before the answer)
        return data[:cut], data[cut:]

    # ----------------------------------------------------------------- output
    def _write_lines(self, lines: object, now_s: float) -> None:
        texts = [t.decode("latin-1") if isinstance(t, bytes) else t for t in lines]  # type: ignore[attr-defined]
        if texts:
            self._emit(format_line("\r\n".join(texts), verbose=self.state.settings.verbose), now_s)

    def _write_final(self, reply: Reply, now_s: float) -> None:
        settings = self.state.settings
        if self.urc_mode == "interleave":
            self._write_urcs(now_s)
        if not settings.quiet:
            self._emit(format_final(reply.final, reply.code, verbose=settings.verbose, cmee=settings.cmee), now_s)
        if self._line is None:
            self._write_urcs(now_s)  # what was held while the line ran follows its final result
        if self._reboot_requested and self._line is None:
            self._reboot_requested = False
            self._reboot(now_s)

    def _write_urcs(self, now_s: float) -> None:
        urcs, self._urcs = self._urcs, []
        for text in urcs:
            body = text.decode("latin-1") if isinstance(text, bytes) else text
            self._emit(format_line(body, verbose=self.state.settings.verbose), now_s)

    def _flush(self, now_s: float) -> None:
        """Write held URCs unless a command line runs; release output held during sleep."""
        if self._line is None:
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
