"""Commands that answer with a payload prompt, and how their payload must end.

After ``> `` (SMS, Quectel sends) or ``@`` (u-blox binary writes) the host sends the payload
(reference §1, §8.12); which commands prompt, and with which character, is
:func:`cellfleet.modem.responses.prompt_char`. Two conventions for the payload exist:

* terminated by Ctrl-Z (0x1A), ESC (0x1B) cancels: 27.005 +CMGS (§3.5.1), +CMGW (§3.5.3),
  +CMGC (§3.5.5) in text and PDU mode (§4.3-§4.5), and Quectel ``AT+QISEND=<id>`` without a
  length (BG96 TCP/IP application note, AT+QISEND);
* exactly ``<length>`` bytes, nothing after: Quectel ``AT+QISEND=<id>,<length>``, u-blox
  ``AT+USOWR=<socket>,<length>`` and ``AT+USOST=<socket>,<ip>,<port>,<length>`` (SARA AT
  manual: binary mode, ``@`` prompt).
"""

from __future__ import annotations

from cellfleet.modem.command_line import Command, parse_command_line, split_args
from cellfleet.modem.errors import AtError
from cellfleet.modem.responses import prompt_char

CTRL_Z, ESC = b"\x1a", b"\x1b"

_CTRL_Z_COMMANDS = frozenset({"+CMGS", "+CMGW", "+CMGC"})
#: Position of the byte-count argument of the length-counted sends.
_COUNT_ARG = {"+QISEND": 1, "+USOWR": 1, "+USOST": 3}


def parse_line(line: str) -> list[Command]:
    """The commands of a full command line (``AT…``); ``[]`` when it does not parse."""
    text = line.strip()
    try:
        return parse_command_line(text[2:]) if text[:2].upper() == "AT" else []
    except AtError:
        return []


def needs_prompt(line: str) -> bool:
    """Whether the modem answers ``line`` with a payload prompt (the knowledge is
    :data:`~cellfleet.modem.responses.PROMPT_COMMANDS`, shared with the ResponseReader)."""
    return prompt_char(parse_line(line)) is not None


def wants_ctrl_z(line: str) -> bool:
    """Whether the payload of ``line`` ends with Ctrl-Z (see the module docstring)."""
    commands = parse_line(line)
    if not commands:
        return False
    last = commands[-1]
    return last.name in _CTRL_Z_COMMANDS or (last.name == "+QISEND" and len(split_args(last.args)) == 1)


def check_payload(line: str, payload: bytes, ctrl_z: bool) -> None:
    """``ValueError`` for a payload the modem would misread: Ctrl-Z or ESC inside a Ctrl-Z
    terminated payload, or a length other than the one the command declares."""
    if ctrl_z and (CTRL_Z in payload or ESC in payload):
        raise ValueError("a Ctrl-Z terminated payload cannot contain Ctrl-Z (0x1A) or ESC (0x1B)")
    commands = parse_line(line)
    if not commands or commands[-1].name not in _COUNT_ARG:
        return
    args = split_args(commands[-1].args)
    index = _COUNT_ARG[commands[-1].name]
    declared = args[index] if len(args) > index else None
    if declared is not None and declared.isdigit() and int(declared) != len(payload):
        raise ValueError(f"{commands[-1].name} declares {declared} bytes, payload has {len(payload)}")
