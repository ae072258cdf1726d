"""+CSCS, the TE character set (27.007 §5.5), and the conversions it governs.

Strings the modem shows (operator names, phone numbers, SMS text) are written in the TE
character set, and strings the host sends are read in it (27.007 §5.5, 27.005 Annex A):

* ``"GSM"``: the GSM 7-bit default alphabet (TS 23.038 §6.2.1), one byte per septet code, so
  ``@`` is 0x00 and ``é`` 0x05 (reference §8.14); characters of the extension table are ESC
  (0x1B) + code; characters it lacks become ``?``.
* ``"IRA"``: ITU-T T.50 IRA (ASCII); other characters become ``?``.
* ``"UCS2"``: each UTF-16 code unit as four hex digits (``"0041"`` for ``A``).
"""

from __future__ import annotations

from gsmmodem import pdu as gsmpdu

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Reply,
    ok,
    register,
)

CHARSETS = ("GSM", "IRA", "UCS2")


def to_te(text: str, charset: str) -> str:
    """``text`` as the host reads it in ``charset`` (a Latin-1 string: one char per byte)."""
    if charset == "UCS2":
        return text.encode("utf-16-be").hex().upper()
    if charset == "GSM":
        return "".join(chr(code) for char in text for code in (gsmpdu.encodeGsm7(char, True) or b"?"))
    return "".join(char if ord(char) < 0x80 else "?" for char in text)


def from_te(text: str, charset: str) -> str:
    """The text a host string in ``charset`` stands for; ValueError if it is not valid there."""
    if charset == "UCS2":
        if len(text) % 4:
            raise ValueError(f"UCS2 text is groups of 4 hex digits, got {text!r}")
        return bytes.fromhex(text).decode("utf-16-be")
    if charset == "GSM":
        codes = text.encode("latin-1")
        if any(code > 0x7F for code in codes):
            raise ValueError("GSM 7-bit codes are 0..127")
        return gsmpdu.decodeGsm7(bytearray(codes))
    return text


def te_string(ctx: CommandContext, text: str) -> str:
    """``text`` in the modem's current TE character set, quoted for a response."""
    return f'"{to_te(text, ctx.state.settings.cscs)}"'


def te_arg(ctx: CommandContext, index: int) -> str | None:
    """String parameter ``index`` read in the TE character set (parameter error if invalid)."""
    value = ctx.str_arg(index)
    if value is None:
        return None
    try:
        return from_te(value, ctx.state.settings.cscs)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(ctx.bad_parameter()) from exc


@register("+CSCS", "set")
def cscs_set(ctx: CommandContext) -> Reply:
    """27.007 §5.5: select the TE character set; ``AT+CSCS=`` keeps the current one."""
    ctx.max_args(1)
    name = ctx.str_arg(0)
    if name is None:
        return ok()
    chosen = name.upper()
    if chosen not in CHARSETS:
        try:  # a host in UCS2 may spell the new set in UCS2 too
            chosen = from_te(name, "UCS2").upper()
        except (ValueError, UnicodeDecodeError):
            chosen = ""
    if chosen not in CHARSETS:
        raise CommandError(ctx.bad_parameter())
    ctx.state.settings.cscs = chosen
    return ok()


@register("+CSCS", "read")
def cscs_read(ctx: CommandContext) -> Reply:
    return ok(f'+CSCS: "{ctx.state.settings.cscs}"')


@register("+CSCS", "test")
def cscs_test(ctx: CommandContext) -> Reply:
    return ok("+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")")
