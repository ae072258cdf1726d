"""The command handler registry of the virtual modem: how a module adds AT commands.

A handler is a function of a :class:`CommandContext` returning a :class:`Reply`; it is registered
for a command name (upper case, with its prefix: ``"+CEREG"``, ``"E"``, ``"%XICCID"``) and one or
more forms (V.250 §5.3/§5.4: ``action`` ``AT+X``, ``set`` ``AT+X=...``, ``read`` ``AT+X?``,
``test`` ``AT+X=?``)::

    from cellfleet.modem.cmd_registry import CommandContext, Reply, ok, register

    @register("+QIOPEN", "set")
    def qiopen(ctx: CommandContext) -> Reply:
        ctx.schedule(ctx.now_s + 0.3, lambda at_s: ["+QIOPEN: 0,0"])   # URC later
        return ok()

A handler may

* answer information lines and a final result: ``ok(*lines)``, ``error()``, ``cme(code)``,
  ``cms(code)``, ``Reply(lines, final="SEND OK")``; lines may be ``bytes`` (raw data);
* raise :class:`CommandError` (``ctx.int_arg`` / ``ctx.require_sim`` do) to answer an error;
* take simulated latency: ``Reply(latency_s=...)``, else the profile's latency table applies;
  the final result (and everything after it on the line) waits that long. V.250 §5.6.1: only
  commands noted as abortable (``Profile.abortable_commands``, or ``Reply(abortable=True)``)
  are aborted by a character from the host meanwhile; for the others the host's input waits
  until the final result (see ``virtual.py``);
* ask for a payload: ``Reply(prompt=PromptRequest(on_payload, char=">", count=None))`` writes
  the prompt, collects the bytes (until Ctrl-Z, or exactly ``count``) and then calls
  ``on_payload(ctx, data)`` for the final reply; ESC cancels (the reply is ``on_cancel``);
* emit URCs: ``ctx.urc(text)`` (after the final result, 27.005 +CNMI ``<bfr>`` buffering) or
  ``ctx.schedule(at_s, action)`` — ``action(at_s)`` runs at that simulated time and returns the
  URC lines to write (it may change state then);
* keep its own state in ``ctx.state.extensions[<name>]`` (volatile: cleared at reboot; a
  ``@before_reboot`` hook ``hook(modem, now_s)`` runs just before, e.g. to bill open sockets).

The profile decides which registered commands a module has (``Profile.commands``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cellfleet.modem.codec import Arg, Command, FinalKind, quoted_args
from cellfleet.modem.errors import AtSyntaxError, CmeError, CmsError

if TYPE_CHECKING:
    from cellfleet.modem.device import DeviceBackend
    from cellfleet.modem.device import Registration as DeviceRegistration
    from cellfleet.modem.profiles import Profile
    from cellfleet.modem.state import ModemState
    from cellfleet.modem.virtual import VirtualModem

Form = Literal["action", "set", "read", "test"]
Line = str | bytes
UrcAction = Callable[[float], Iterable[Line]]


@dataclass(frozen=True)
class PromptRequest:
    """Collect a payload after a prompt, then reply (27.005 §3.5.1; Quectel +QISEND; u-blox @)."""

    on_payload: Callable[[CommandContext, bytes], Reply]
    char: Literal[">", "@"] = ">"
    count: int | None = None  # exact byte count; None = until Ctrl-Z
    #: 27.005 §3.5.1 text mode: after every CR the TA sends the prompt again
    reprompt_on_cr: bool = False
    on_cancel: Reply | None = None  # ESC; None = OK (Cinterion AT manual: "acknowledged with OK")


@dataclass(frozen=True)
class Reply:
    """A command's answer: information lines and a final result code (V.250 §5.7)."""

    lines: Sequence[Line] = ()
    final: FinalKind = "OK"
    code: int | None = None
    latency_s: float | None = None
    prompt: PromptRequest | None = None
    #: whether a character from the host aborts the command during its latency (V.250 §5.6.1);
    #: None: the profile decides (``Profile.abortable``)
    abortable: bool | None = None

    @property
    def failed(self) -> bool:
        """An error final: stops a chained command line (V.250 §5.2.1, reference §1)."""
        return self.final in ("ERROR", "CME", "CMS", "SEND FAIL")


def ok(*lines: Line) -> Reply:
    return Reply(tuple(lines))


def error() -> Reply:
    return Reply(final="ERROR")


def cme(code: int) -> Reply:
    return Reply(final="CME", code=int(code))


def cms(code: int) -> Reply:
    return Reply(final="CMS", code=int(code))


class CommandError(Exception):
    """Raised by a handler (or its helpers) to answer ``reply`` instead."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.final} {reply.code or ''}".strip())
        self.reply = reply


class CommandContext:
    """What a handler sees: the command, the modem's state, device and profile, the simulated
    time, and the means to emit URCs (module docstring)."""

    def __init__(self, modem: VirtualModem, command: Command, now_s: float, *, sms: bool = False) -> None:
        self.modem = modem
        self.command = command
        self.now_s = now_s
        self._sms = sms
        self._args: list[Arg] | None = None

    @property
    def state(self) -> ModemState:
        return self.modem.state

    @property
    def device(self) -> DeviceBackend:
        return self.modem.device

    @property
    def profile(self) -> Profile:
        return self.modem.profile

    # ---------------------------------------------------------------------- parameters
    @property
    def args(self) -> list[Arg]:
        """The set form's parameters (``codec.quoted_args``); bad quoting is a parameter error."""
        if self._args is None:
            try:
                self._args = quoted_args(self.command.args) if self.command.form == "set" else []
            except AtSyntaxError as exc:
                raise CommandError(self.bad_parameter()) from exc
        return self._args

    def bad_parameter(self) -> Reply:
        """27.007 §9.2 CME 50 "incorrect parameters"; for SMS commands 27.005 §3.2.5 CMS 304
        (PDU mode) / 305 (text mode)."""
        if self._sms:
            text_mode = self.state.settings.cmgf == 1
            return cms(CmsError.INVALID_TEXT_MODE_PARAMETER if text_mode else CmsError.INVALID_PDU_MODE_PARAMETER)
        return cme(CmeError.INCORRECT_PARAMETERS)

    def arg(self, index: int) -> Arg | None:
        """Parameter ``index`` or None when absent or omitted."""
        args = self.args
        if index >= len(args) or args[index].value is None:
            return None
        return args[index]

    def str_arg(self, index: int, default: str | None = None) -> str | None:
        arg = self.arg(index)
        return default if arg is None else arg.value

    def int_arg(self, index: int, default: int | None = None, *, allowed: Iterable[int] | None = None) -> int | None:
        """Parameter ``index`` as an integer (``default`` if omitted); a non-number, or one not in
        ``allowed``, answers the command's parameter error."""
        arg = self.arg(index)
        if arg is None:
            return default
        text = arg.value or ""
        if arg.quoted or not text.isdigit():
            raise CommandError(self.bad_parameter())
        value = int(text)
        if allowed is not None and value not in set(allowed):
            raise CommandError(self.bad_parameter())
        return value

    def max_args(self, count: int) -> None:
        """More than ``count`` parameters is a parameter error."""
        if len(self.args) > count:
            raise CommandError(self.bad_parameter())

    # ---------------------------------------------------------------------- SIM
    def require_sim(self, *, pin: bool = True) -> None:
        """27.007 §9.2: CME 10 without a SIM, 11/12 while it waits for its PIN/PUK (``pin``),
        13 (SIM failure) once its PUK is blocked too; SMS commands get the 27.005 §3.2.5 codes
        310/311/316/313."""
        state = self.modem.sim_state()
        if state == "READY" or (state != "NOT INSERTED" and not pin):  # EF_ICCID: access ALW
            return
        codes = {"NOT INSERTED": (10, 310), "SIM PIN": (11, 311), "SIM PUK": (12, 316), "SIM BLOCKED": (13, 313)}[state]
        raise CommandError(cms(codes[1]) if self._sms else cme(codes[0]))

    # ---------------------------------------------------------------------- URCs
    def urc(self, text: Line) -> None:
        """A URC written after this command line's final result (or at once when idle)."""
        self.modem.queue_urc(text)

    def schedule(self, at_s: float, action: UrcAction) -> None:
        """Run ``action(at_s)`` at simulated time ``at_s``; the lines it returns are URCs."""
        self.modem.schedule(at_s, action)


Handler = Callable[[CommandContext], Reply]


@dataclass(frozen=True)
class HandlerEntry:
    handler: Handler
    sms: bool  # 27.005 command: parameter errors are +CMS ERROR 304/305


_REGISTRY: dict[tuple[str, Form], HandlerEntry] = {}


def register(name: str, *forms: Form, sms: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated handler for ``name`` in each of ``forms`` (all four if none)."""
    key_name = name.upper()
    chosen: tuple[Form, ...] = forms or ("action", "set", "read", "test")

    def decorate(handler: Handler) -> Handler:
        for form in chosen:
            _REGISTRY[(key_name, form)] = HandlerEntry(handler, sms)
        return handler

    return decorate


def lookup(name: str, form: Form) -> HandlerEntry | None:
    return _REGISTRY.get((name, form))


def registered_names() -> frozenset[str]:
    """Names with a handler in any form."""
    return frozenset(name for name, _ in _REGISTRY)


#: ``watcher(modem, old, new, me_initiated, now_s)`` -> URC lines, called when the registration
#: the modem reports changes (``me_initiated``: the modem's own radio went off — +CFUN, +CGATT=0,
#: +COPS=2 — rather than the network's doing).
NetworkWatcher = Callable[["VirtualModem", "DeviceRegistration", "DeviceRegistration", bool, float], Iterable[Line]]
_WATCHERS: list[NetworkWatcher] = []


def on_network_change(watcher: NetworkWatcher) -> NetworkWatcher:
    """Register ``watcher`` (decorator); watchers run in registration order."""
    _WATCHERS.append(watcher)
    return watcher


def network_watchers() -> tuple[NetworkWatcher, ...]:
    return tuple(_WATCHERS)


#: ``hook(modem, now_s)``: runs when the modem is about to reboot or power off, before its
#: volatile state (``state.extensions``) is cleared.
RebootHook = Callable[["VirtualModem", float], None]
_REBOOT_HOOKS: list[RebootHook] = []


def before_reboot(hook: RebootHook) -> RebootHook:
    """Register ``hook`` (decorator); hooks run in registration order."""
    _REBOOT_HOOKS.append(hook)
    return hook


def reboot_hooks() -> tuple[RebootHook, ...]:
    return tuple(_REBOOT_HOOKS)
