"""Where the driver's incoming lines go: to the command in flight or to the URC subscribers.

:class:`~cellfleet.modem.driver.ModemDriver`'s reader thread feeds the modem's bytes to a
:class:`~cellfleet.modem.responses.ResponseReader` and hands each event to :func:`route_event`,
under the driver's lock. The echo is dropped (reference §8.1); a line with control characters is
line noise and dropped too (the raw log keeps it), except the data line of an SMS answer
(``InfoLine.data_line``) and lines that carry data, which are free text; URCs, wherever they fall (§8.2), and lines
that arrive while no command is pending go to the :class:`~cellfleet.modem.driver_urcs.UrcHub`;
information lines, a prompt and the final result go to the :class:`PendingCommand`, whose events
wake the thread waiting for it. :class:`Response` is what a successful command returns.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from cellfleet.modem.driver_urcs import UrcHub
from cellfleet.modem.errors import AtError
from cellfleet.modem.responses import Echo, Final, InfoLine, Prompt, Urc

#: The driver's log: what is dropped here is the driver's decision.
log = logging.getLogger("cellfleet.modem.driver")


@dataclass(frozen=True)
class Response:
    """A successful command's information lines (echo and URCs removed) and its final line."""

    lines: list[str]
    final: str
    data: bytes = b""
    """Raw bytes that followed information lines (Quectel ``+QIRD: <len>`` then the data)."""

    def value(self, prefix: str) -> str | None:
        """The first line starting with ``prefix`` (e.g. ``+CSQ``) with the prefix and the
        ``": "`` after it removed; ``None`` when there is none."""
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :].lstrip(":").strip()
        return None


@dataclass
class PendingCommand:
    """The command in flight: filled in on the reader thread, awaited by the caller's thread."""

    line: str
    lines: list[str] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    final: Final | None = None
    prompt: str | None = None
    error: AtError | None = None
    done: threading.Event = field(default_factory=threading.Event)
    progress: threading.Event = field(default_factory=threading.Event)  # prompt or done

    def fail(self, error: AtError) -> None:
        """End the command with ``error`` (port lost, driver closed) unless it has ended."""
        if not self.done.is_set():
            self.error = error
            self.done.set()
            self.progress.set()


def route_event(event: object, pending: PendingCommand | None, urcs: UrcHub, url: str) -> bool:
    """Deliver one reader event to ``pending`` or ``urcs`` (see the module docstring); True when
    it was ``pending``'s final result, so the caller must forget ``pending``."""
    if isinstance(event, Echo):
        return False
    if isinstance(event, (InfoLine, Urc)) and not _is_free_text(event) and _is_noise(event.text):
        log.debug("%s: noise line dropped: %r", url, event.text)
        return False
    if isinstance(event, Urc):
        urcs.publish(event.text, event.data)
    elif isinstance(event, InfoLine):
        if pending is None:
            urcs.publish(event.text, event.data)  # nothing is pending: unsolicited
        else:
            pending.lines.append(event.text)
            pending.data += event.data or b""
    elif isinstance(event, Final):
        if pending is None:
            log.debug("%s: final %r with no command pending dropped", url, event.text)
            return False
        pending.final = event
        pending.done.set()
        pending.progress.set()
        return True
    elif isinstance(event, Prompt) and pending is not None:
        pending.prompt = event.char
        pending.progress.set()
    return False


def _is_free_text(event: InfoLine | Urc) -> bool:
    """A line that carries data (an SMS body or PDU line, 27.005 §3.4.2/§3.4.3; bytes that
    followed it) may hold any byte."""
    return event.data is not None or (isinstance(event, InfoLine) and event.data_line)


def _is_noise(text: str) -> bool:
    """A line with C0 control characters (other than TAB) or DEL is line noise, not an AT
    response: AT responses are IRA text (V.250 §5.1), and binary (QCDM, DIAG) or a garbled
    boot banner is what produces such lines (reference §8.4, §8.20). The raw log keeps it.
    Never applied to an SMS body or PDU line: with ``+CSCS="GSM"`` text is GSM 7-bit, where
    ``@`` is 0x00, ``$`` 0x02, ``_`` 0x11 (23.038 §6.2.1; reference §8.14)."""
    return any((ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F for char in text)
