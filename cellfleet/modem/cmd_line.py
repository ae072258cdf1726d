"""Executing command lines in the virtual modem: chained commands, latency, prompts, abort.

A line's commands run one after the other through the handler registry
(:mod:`cellfleet.modem.cmd_registry`); the first error ends the line (V.250 §5.2.1, the
answers already written stay). A command whose reply has latency holds the rest of the line
until ``advance`` reaches its due time. V.250 §5.6.1: only commands "explicitly noted in the
description" as abortable (``Profile.abortable``, ``Reply.abortable``) are aborted by a character
from the host meanwhile (answered ERROR, reference §8.17) — except the LF of the CR LF that
ended the line, which never aborts (§5.6.1 lets the DTE append it); input that arrives while any
other command runs waits until its final result. A reply may open a prompt (27.005 §3.5.1 "> ",
u-blox "@"): the next bytes are its payload, whose handler gives the command's final reply (ESC
cancels with OK, as the Cinterion/Telit AT manuals describe +CMGS; a failed command is answered
at once, without latency, unless its reply says otherwise).

:class:`CommandLineRunner` is a mixin of :class:`~cellfleet.modem.virtual.VirtualModem` (kept
apart so each file stays small); it uses the modem's state, profile, reader and writers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    PromptRequest,
    Reply,
    error,
    lookup,
    ok,
    registered_names,
)
from cellfleet.modem.codec import (
    CTRL_Z,
    ESC,
    LF,
    Command,
    LineEvent,
    LineOverflow,
    PayloadEvent,
    RepeatEvent,
    format_final,
    format_line,
    format_prompt,
    parse_command_line,
)
from cellfleet.modem.errors import AtSyntaxError

if TYPE_CHECKING:
    from cellfleet.modem.codec import CommandLineReader
    from cellfleet.modem.profiles import Profile
    from cellfleet.modem.state import ModemState


@dataclass
class LineRun:
    """A command line being executed: what is left, and what it waits for."""

    commands: deque[Command]
    pending: Reply | None = None  # a reply waiting for its latency
    due_s: float | None = None
    prompt: PromptRequest | None = None  # waiting for a payload
    prompt_ctx: CommandContext | None = None
    command: Command | None = None  # the command being executed
    abortable: bool = False  # the pending reply may be aborted by the host (V.250 §5.6.1)


class CommandLineRunner:
    """Command-line execution for VirtualModem (module docstring)."""

    state: ModemState
    profile: Profile
    latency_scale: float
    _reader: CommandLineReader
    _line: LineRun | None
    _payload_left: int | None
    _input: bytearray  # the host's bytes not processed yet (held behind a running command)

    urc_mode: str
    _reboot_requested: bool

    if TYPE_CHECKING:  # provided by VirtualModem

        def _write_urcs(self, now_s: float) -> None: ...
        def _urcs_may_go(self) -> bool: ...
        def _reboot(self, now_s: float) -> None: ...
        def _emit(self, data: bytes, now_s: float) -> None: ...
        def sync_network(self, now_s: float) -> None: ...
        def _apply_s_registers(self) -> None: ...
        def takes_input(self, now_s: float) -> bool: ...

    def _consume_input(self, now_s: float) -> None:
        """Process the host's queued bytes in order, piece by piece, until none is left or a
        command runs that cannot be aborted (V.250 §5.6.1: then the rest waits for its final
        result; ``advance`` resumes it). The LF right after the line's CR never aborts."""
        while self._input:
            if not self.takes_input(now_s):
                self._input.clear()  # powered off, booting or asleep: the bytes are lost
                return
            line = self._line
            lf_tail = self._reader.lf_is_tail and self._input[0] == LF
            if line is not None and line.pending is not None and not lf_tail:
                if not line.abortable:
                    return
                self._abort(now_s)
            piece = self._next_piece(lf_tail)
            prompt = self._line.prompt if self._line is not None else None
            # u-blox SARA-R4 manual +USOWR: "@" binary data is not echoed (the LF tail is the line's)
            binary = prompt is not None and prompt.char == "@" and self._reader.in_payload and not lf_tail
            if self.state.settings.echo and not binary:
                self._emit(piece, now_s)  # V.250 §6.2.4: echoed as received
            for event in self._reader.feed(piece):
                self._on_event(event, now_s)
            text_line_end = piece.rstrip(b"\n").endswith(b"\r")
            if prompt is not None and prompt.reprompt_on_cr and self._reader.in_payload and text_line_end:
                self._emit(format_prompt(prompt.char), now_s)  # 27.005 §3.5.1 text mode: a prompt per line

    def _next_piece(self, lf_tail: bool) -> bytes:
        """Take the next bytes to feed the reader: the LF tail of CR LF alone, up to a line end
        (S3 with its LF, or LF) / Ctrl-Z / ESC / ``A/``, or the rest of a counted payload (so a
        prompt or a latency can intervene in between)."""
        data = self._input
        if lf_tail:
            cut = 1
        elif self._payload_left is not None and self._reader.in_payload:
            cut = min(max(self._payload_left, 1), len(data))
            self._payload_left -= cut
        else:
            terminator = self._reader.terminator
            found = [i for i in (data.find(bytes([b])) for b in (terminator, LF, CTRL_Z, ESC, 0x2F)) if i >= 0]
            cut = min(found) + 1 if found else len(data)
            if data[cut - 1] == terminator and data[cut : cut + 1] == b"\n":
                cut += 1  # the LF of CR LF belongs to the line it ends (echoed before the answer)
        piece = bytes(data[:cut])
        del data[:cut]
        return piece

    def _on_event(self, event: object, now_s: float) -> None:
        if isinstance(event, LineEvent):
            self.state.last_line = event.text
            self._start_line(event.text, now_s)
        elif isinstance(event, RepeatEvent):
            text = event.text or self.state.last_line
            if text is None:
                self._write_final(error(), now_s)
            else:
                self._start_line(text, now_s)
        elif isinstance(event, PayloadEvent):
            self._on_payload(event, now_s)
        elif isinstance(event, LineOverflow):
            self._write_final(error(), now_s)

    def _start_line(self, text: str, now_s: float) -> None:
        try:
            commands = parse_command_line(text[2:])
        except AtSyntaxError:
            self._write_final(error(), now_s)
            return
        if not commands:
            self._write_final(ok(), now_s)
            return
        self._line = LineRun(deque(commands))
        self._run_line(now_s)

    def _run_line(self, now_s: float) -> None:
        """Execute commands until one waits (latency, prompt) or the line ends."""
        line = self._line
        while line is not None and line.commands and self._line is line:
            command = line.commands.popleft()
            line.command = command
            ctx, reply = self._execute(command, now_s)
            self._apply_s_registers()  # S3/S5 (set, ATZ, AT&F) apply to the next line at once
            self.sync_network(now_s)
            if reply.prompt is not None and not reply.failed:
                self._open_prompt(line, ctx, reply, now_s)
                return
            if self._delay(line, command, reply, now_s) or not self._finish(reply, now_s):
                return

    def _delay(self, line: LineRun, command: Command, reply: Reply, now_s: float) -> bool:
        latency_s = reply.latency_s
        if latency_s is None:
            # a command the TA rejects (bad parameters, no SIM...) is answered at once
            latency_s = 0.0 if reply.failed else self.profile.latency_for(command) * self.latency_scale
        if latency_s <= 0:
            return False
        line.pending, line.due_s = reply, now_s + latency_s
        line.abortable = reply.abortable if reply.abortable is not None else self.profile.abortable(command)
        return True

    def _execute(self, command: Command, now_s: float) -> tuple[CommandContext, Reply]:
        ctx = CommandContext(self, command, now_s)
        unknown = Reply(final=self.profile.unknown_final[0], code=self.profile.unknown_final[1])  # type: ignore[arg-type]
        if command.name not in self.profile.commands or command.name not in registered_names():
            return ctx, unknown
        if command.form == "test" and self.profile.test_form_policy == "error":
            return ctx, error()
        registration = lookup(command.name, command.form)
        if registration is None:
            return ctx, ok() if command.form == "test" else unknown
        ctx = CommandContext(self, command, now_s, sms=registration.sms)
        try:
            return ctx, registration.handler(ctx)
        except CommandError as exc:
            return ctx, exc.reply

    def _open_prompt(self, line: LineRun, ctx: CommandContext, reply: Reply, now_s: float) -> None:
        prompt = reply.prompt
        assert prompt is not None
        line.prompt, line.prompt_ctx = prompt, ctx
        self._write_lines(reply.lines, now_s)
        self._emit(format_prompt(prompt.char), now_s)
        self._reader.expect_payload(
            until_ctrl_z=prompt.count is None, count=prompt.count, text_lines=prompt.reprompt_on_cr
        )
        self._payload_left = prompt.count

    def _on_payload(self, event: PayloadEvent, now_s: float) -> None:
        line = self._line
        if line is None or line.prompt is None or line.prompt_ctx is None:
            return
        prompt, ctx = line.prompt, line.prompt_ctx
        line.prompt = line.prompt_ctx = None
        self._payload_left = None
        ctx.now_s = now_s
        if event.overflowed:
            reply = ctx.bad_parameter()
        elif event.cancelled:
            reply = prompt.on_cancel or ok()
        else:
            try:
                reply = prompt.on_payload(ctx, event.data)
            except CommandError as exc:
                reply = exc.reply
        self.sync_network(now_s)
        assert line.command is not None
        finished = event.cancelled or not self._delay(line, line.command, reply, now_s)
        if finished and self._finish(reply, now_s):
            self._run_line(now_s)

    def _abort(self, now_s: float) -> None:
        """V.250 §5.6.1: a character from the host aborts the command in progress (only called
        for a command noted as abortable, and never for the LF of the line's CR LF)."""
        self._line = None
        self._write_final(error(), now_s)

    def _finish(self, reply: Reply, now_s: float) -> bool:
        """A command finished: write its lines and, if the line ends here (last command or an
        error, V.250 §5.2.1), the final result. True if more commands follow."""
        line = self._line
        self._write_lines(reply.lines, now_s)
        if line is not None and line.commands and not reply.failed:
            return True
        self._line = None
        self._write_final(reply, now_s)
        return False

    # ----------------------------------------------------------------- answers
    def _format_line(self, text: str) -> bytes:
        """An information line or URC as S3/S4 and V frame it now (V.250 §6.2.1-§6.2.6)."""
        settings = self.state.settings
        s3, s4 = settings.s_registers[3], settings.s_registers[4]
        return format_line(text, verbose=settings.verbose, s3=s3, s4=s4)

    def _write_lines(self, lines: object, now_s: float) -> None:
        texts = [t.decode("latin-1") if isinstance(t, bytes) else t for t in lines]  # type: ignore[attr-defined]
        if texts:
            registers = self.state.settings.s_registers
            separator = chr(registers[3]) + chr(registers[4])  # one line's trailer, the next's header
            self._emit(self._format_line(separator.join(texts)), now_s)

    def _write_final(self, reply: Reply, now_s: float) -> None:
        settings = self.state.settings
        if self.urc_mode == "interleave":
            self._write_urcs(now_s)
        if not settings.quiet:
            s3, s4 = settings.s_registers[3], settings.s_registers[4]
            final = format_final(reply.final, reply.code, verbose=settings.verbose, cmee=settings.cmee, s3=s3, s4=s4)
            self._emit(final, now_s)
        if self._urcs_may_go():
            self._write_urcs(now_s)  # what was held while the line ran follows its final result
        if self._reboot_requested and self._line is None:
            self._reboot_requested = False
            self._reboot(now_s)
