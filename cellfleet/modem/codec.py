"""The AT stream codec for both ends of the serial line; no I/O anywhere in it.

This module is the codec's front door: it re-exports the two halves and holds the modem side's
output framing.

* :mod:`cellfleet.modem.command_line` (what the host sends): ``parse_command_line`` /
  ``split_args`` / ``quoted_args``, the command line syntax of ITU-T V.250 §5 and TS 27.007 §4;
  ``CommandLineReader`` (modem side): bytes from the host -> complete command lines, ``A/``
  repeats and payloads after a ``> `` / ``@`` prompt.
* :mod:`cellfleet.modem.responses` (what the modem sends): ``ResponseReader`` (host side): bytes
  from the modem -> echo, information lines, final result codes, prompts and URCs, recognised
  wherever they appear (reference §1, §8); ``classify_final``.
* ``format_line`` / ``format_final`` / ``format_prompt`` (here, modem side): V.250 §5.7 framing.

Bytes are decoded as Latin-1, so any byte sequence maps to text and back without loss: the AT
character set is IRA (ASCII, V.250 §5.1), anything else is the peer's garbage and is kept as is.
"""

from __future__ import annotations

from typing import Literal

from cellfleet.modem import errors
from cellfleet.modem.command_line import (
    BS,
    CR,
    CTRL_Z,
    ESC,
    LF,
    MAX_LINE_BYTES,
    Arg,
    Command,
    CommandLineReader,
    Form,
    LineEvent,
    LineOverflow,
    PayloadEvent,
    RepeatEvent,
    parse_command_line,
    quoted_args,
    split_args,
)
from cellfleet.modem.responses import (
    FREE_TEXT_COMMANDS,
    NUMERIC_CODE,
    NUMERIC_RESULT,
    Echo,
    Final,
    FinalKind,
    InfoLine,
    Overflow,
    Prompt,
    ResponseEvent,
    ResponseReader,
    Urc,
    classify_final,
)

__all__ = [
    "BS",
    "CR",
    "CTRL_Z",
    "ESC",
    "FREE_TEXT_COMMANDS",
    "LF",
    "MAX_LINE_BYTES",
    "NUMERIC_CODE",
    "NUMERIC_RESULT",
    "Arg",
    "Command",
    "CommandLineReader",
    "Echo",
    "Final",
    "FinalKind",
    "Form",
    "InfoLine",
    "LineEvent",
    "LineOverflow",
    "Overflow",
    "PayloadEvent",
    "Prompt",
    "RepeatEvent",
    "ResponseEvent",
    "ResponseReader",
    "Urc",
    "classify_final",
    "format_final",
    "format_line",
    "format_prompt",
    "parse_command_line",
    "quoted_args",
    "split_args",
]


# --------------------------------------------------------------------------------------------
# Modem side: formatting (V.250 §5.7)


def format_line(text: str, *, verbose: bool = True, s3: int = CR, s4: int = LF) -> bytes:
    """An information line or URC: ``<S3><S4>text<S3><S4>`` with ``ATV1``; ``text<S3><S4>``
    with ``ATV0`` (V.250 §6.2.6 Table: the header is left out, the trailer kept). S3 and S4 are
    the S-registers of V.250 §6.2.1/§6.2.2, CR and LF by default."""
    body = text.encode("latin-1")
    end = bytes((s3, s4))
    return end + body + end if verbose else body + end


def format_final(
    kind: FinalKind, code: int | None = None, *, verbose: bool = True, cmee: int = 1, s3: int = CR, s4: int = LF
) -> bytes:
    """A final result code. V1: ``<S3><S4>OK<S3><S4>``; V0: the numeric code and S3 (``0\\r``,
    V.250 §5.7.1 Table 1, §6.2.6); kinds without a numeric form keep their text
    (``+CME ERROR: 10\\r``). S3/S4 (V.250 §6.2.1/§6.2.2) are CR and LF by default.
    ``CME``: ``+CMEE`` 0 gives plain ERROR, 1 the number, 2 the verbose text (TS 27.007 §9.1).
    ``CMS``: numeric, verbose with ``+CMEE=2`` (TS 27.005 §3.2.5 has no switch of its own)."""
    if kind == "CME":
        if code is None:
            raise ValueError("a +CME ERROR needs a code")
        if cmee == 0:
            return format_final("ERROR", verbose=verbose, s3=s3, s4=s4)
        text = f"+CME ERROR: {errors.cme_text(code) if cmee == 2 else code}"
    elif kind == "CMS":
        if code is None:
            raise ValueError("a +CMS ERROR needs a code")
        text = f"+CMS ERROR: {errors.cms_text(code) if cmee == 2 else code}"
    elif kind in NUMERIC_CODE:
        text = kind if verbose else NUMERIC_CODE[kind]
    elif kind in ("SEND OK", "SEND FAIL"):
        text = kind
    else:
        raise ValueError(f"unknown final result kind {kind!r}")
    body = text.encode("latin-1")
    end = bytes((s3, s4))
    return end + body + end if verbose else body + bytes((s3,))


def format_prompt(char: Literal[">", "@"] = ">") -> bytes:
    """``<CR><LF>> `` (TS 27.005 §3.5.1: greater-than and space, no line end after it) or u-blox's
    ``@`` prompt (SARA AT manual, +USOWR)."""
    if char == ">":
        return b"\r\n> "
    if char == "@":
        return b"\r\n@"
    raise ValueError(f"a prompt is '>' or '@', got {char!r}")
