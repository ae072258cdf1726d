"""SMS commands of TS 27.005 §3: +CMGF, +CSCA, +CSMP, +CPMS, +CNMI, +CMGS, +CMGR, +CMGL, +CMGD,
and the delivery of mobile-terminated SMS (+CMTI / +CMT).

Both message formats (+CMGF=0 PDU, =1 text; §3.2.3) are served. Received messages are stored
in ``<mem3>`` of +CPMS and announced per +CNMI ``<mt>`` (§3.4.1: 0 store silently, 1 and 3
``+CMTI``, 2 route directly with ``+CMT``, not stored). Text-mode headers are the +CSDH=0 forms
(no detailed header). Message storages hold received messages only (no +CMGW). Status reports
(+CDS) and cell broadcasts are not generated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cellfleet.modem.cmd_charset import from_te, te_arg, te_string, to_te
from cellfleet.modem.cmd_power import cclk_text
from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    PromptRequest,
    Reply,
    cms,
    ok,
    register,
)
from cellfleet.modem.errors import CmsError
from cellfleet.modem.sms_pdu import decode_submit, deliver_pdus
from cellfleet.modem.state import StoredSms

#: 27.005 §3.1 <stat>: numbers (PDU mode) and strings (text mode).
STATUS_TEXT = {0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT", 4: "ALL"}
STATUS_OF_TEXT = {text: number for number, text in STATUS_TEXT.items()}
#: TS 23.040 §9.2.2.2: an SMS-SUBMIT TPDU is at most 164 octets.
MAX_TPDU_BYTES = 164


def sms_command(name: str, *forms):
    """Register a 27.005 command (its parameter errors are +CMS ERROR 304/305)."""
    return register(name, *forms, sms=True)


def scts_text(modem, local: datetime) -> str:
    """27.005 §3.1 <scts>: ``"yy/MM/dd,hh:mm:ss±zz"`` (the +CCLK layout, 27.007 §8.15)."""
    return cclk_text(local, modem.state.tz_quarters)


# ----------------------------------------------------------------------- settings
@sms_command("+CMGF", "set")
def cmgf_set(ctx: CommandContext) -> Reply:
    """§3.2.3: 0 PDU mode, 1 text mode (``AT+CMGF=`` is 0)."""
    ctx.max_args(1)
    ctx.state.settings.cmgf = ctx.int_arg(0, 0, allowed=(0, 1)) or 0
    return ok()


@sms_command("+CMGF", "read")
def cmgf_read(ctx: CommandContext) -> Reply:
    return ok(f"+CMGF: {ctx.state.settings.cmgf}")


@sms_command("+CMGF", "test")
def cmgf_test(ctx: CommandContext) -> Reply:
    return ok("+CMGF: (0,1)")


@sms_command("+CSCA", "set")
def csca_set(ctx: CommandContext) -> Reply:
    """§3.3.1: ``+CSCA="<sca>"[,<tosca>]`` (type 145 international, 129 otherwise)."""
    ctx.max_args(2)
    number = te_arg(ctx, 0)
    if number is None:
        raise CommandError(ctx.bad_parameter())
    default_type = 145 if number.startswith("+") else 129
    ctx.state.csca = (number, ctx.int_arg(1, default_type, allowed=range(256)) or default_type)
    return ok()


@sms_command("+CSCA", "read")
def csca_read(ctx: CommandContext) -> Reply:
    number, toa = ctx.state.csca
    return ok(f"+CSCA: {te_string(ctx, number)},{toa}")


@sms_command("+CSMP", "set")
def csmp_set(ctx: CommandContext) -> Reply:
    """§3.3.2: ``+CSMP=[<fo>[,<vp>[,<pid>[,<dcs>]]]]``; omitted values are kept."""
    ctx.max_args(4)
    old = ctx.state.settings.csmp
    values = tuple(ctx.int_arg(i, old[i], allowed=range(256)) for i in range(4))
    ctx.state.settings.csmp = values  # type: ignore[assignment]
    return ok()


@sms_command("+CSMP", "read")
def csmp_read(ctx: CommandContext) -> Reply:
    return ok("+CSMP: " + ",".join(str(v) for v in ctx.state.settings.csmp))


# ----------------------------------------------------------------------- +CPMS
def _memories(ctx: CommandContext) -> str:
    return "(" + ",".join(f'"{m}"' for m in ctx.state.sms.capacity) + ")"


@sms_command("+CPMS", "set")
def cpms_set(ctx: CommandContext) -> Reply:
    """§3.2.2: ``+CPMS=<mem1>[,<mem2>[,<mem3>]]`` answers the used/total counts of all three
    (gammu calls a bare OK "UNKNOWN response", reference §6.2)."""
    ctx.require_sim()
    ctx.max_args(3)
    chosen = list(ctx.state.cpms)
    for i in range(3):
        memory = ctx.str_arg(i)
        if memory is None:
            if i == 0:
                raise CommandError(ctx.bad_parameter())
            continue
        if memory.upper() not in ctx.state.sms.capacity:
            return cms(CmsError.OPERATION_NOT_SUPPORTED)
        chosen[i] = memory.upper()
    ctx.state.cpms = (chosen[0], chosen[1], chosen[2])
    store = ctx.state.sms
    return ok("+CPMS: " + ",".join(f"{store.used(m)},{store.capacity[m]}" for m in chosen))


@sms_command("+CPMS", "read")
def cpms_read(ctx: CommandContext) -> Reply:
    ctx.require_sim()
    store = ctx.state.sms
    return ok("+CPMS: " + ",".join(f'"{m}",{store.used(m)},{store.capacity[m]}' for m in ctx.state.cpms))


@sms_command("+CPMS", "test")
def cpms_test(ctx: CommandContext) -> Reply:
    memories = _memories(ctx)
    return ok(f"+CPMS: {memories},{memories},{memories}")


# ----------------------------------------------------------------------- +CNMI
@sms_command("+CNMI", "set")
def cnmi_set(ctx: CommandContext) -> Reply:
    """§3.4.1 ``+CNMI=[<mode>[,<mt>[,<bm>[,<ds>[,<bfr>]]]]]`` (omitted values kept). Leaving
    mode 0 flushes the indications buffered meanwhile (bfr 0) or drops them (bfr 1)."""
    ctx.max_args(5)
    old = ctx.state.settings.cnmi
    ranges = (range(4), range(4), range(4), range(3), range(2))
    values = tuple(ctx.int_arg(i, old[i], allowed=ranges[i]) for i in range(5))
    ctx.state.settings.cnmi = values  # type: ignore[assignment]
    buffered = ctx.modem.cnmi_buffer
    if values[0] != 0 and buffered:
        if values[4] == 0:
            for text in buffered:
                ctx.urc(text)
        buffered.clear()
    return ok()


@sms_command("+CNMI", "read")
def cnmi_read(ctx: CommandContext) -> Reply:
    return ok("+CNMI: " + ",".join(str(v) for v in ctx.state.settings.cnmi))


@sms_command("+CNMI", "test")
def cnmi_test(ctx: CommandContext) -> Reply:
    return ok("+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)")


# ----------------------------------------------------------------------- MT delivery
def deliver(modem, sender: str, text: str, now_s: float) -> list[str]:
    """Store or route an MT SMS per +CNMI ``<mt>``; returns its indications (§3.4.1). A full
    storage drops the message without indication."""
    state = modem.state
    local = (modem.clock(now_s) + timedelta(minutes=15 * state.tz_quarters)).replace(tzinfo=None)
    reference = state.extensions.setdefault("sms_concat_reference", 0)
    state.extensions["sms_concat_reference"] = (reference + 1) % 256
    parts = deliver_pdus(sender, text, local, smsc=state.csca[0], tz_quarters=state.tz_quarters, reference=reference)
    mt = state.settings.cnmi[1]
    memory = state.cpms[2]
    cscs = state.settings.cscs
    out = []
    for part in parts:
        if mt == 2:
            if state.settings.cmgf == 0:
                out.append(f"+CMT: ,{part.tpdu_length}\r\n{part.pdu_hex}")
            else:
                header = f'"{to_te(sender, cscs)}",,{scts_text(modem, local)}'
                out.append(f"+CMT: {header}\r\n{to_te(part.text, cscs)}")
            continue
        sms = StoredSms(0, sender, part.text, local, part.pdu_hex, part.tpdu_length)
        index = state.sms.store(memory, sms)
        if index is not None and mt in (1, 3):
            out.append(f'+CMTI: "{memory}",{index}')
    return out


# ----------------------------------------------------------------------- reading and deleting
def _entry(ctx: CommandContext, index: int | None, sms: StoredSms, *, listing: bool) -> list[str]:
    """+CMGR (§3.4.3) / +CMGL (§3.4.2) header and data lines of a stored message."""
    prefix = f"+CMGL: {index}," if listing else "+CMGR: "
    if ctx.state.settings.cmgf == 0:
        return [f"{prefix}{sms.status},,{sms.tpdu_length}", sms.pdu_hex]
    cscs = ctx.state.settings.cscs
    header = f'"{STATUS_TEXT[sms.status]}",{te_string(ctx, sms.sender)},,{scts_text(ctx.modem, sms.scts)}'
    return [prefix + header, to_te(sms.text, cscs)]


def _index_arg(ctx: CommandContext) -> int:
    index = ctx.int_arg(0)
    memory = ctx.state.cpms[0]
    if index is None:
        raise CommandError(ctx.bad_parameter())
    if not ctx.state.sms.valid_index(memory, index):
        raise CommandError(cms(CmsError.INVALID_MEMORY_INDEX))
    return index


@sms_command("+CMGR", "set")
def cmgr(ctx: CommandContext) -> Reply:
    """§3.4.3 ``+CMGR=<index>`` from ``<mem1>``; REC UNREAD becomes REC READ. An empty slot
    answers OK alone, an index outside the storage +CMS ERROR: 321."""
    ctx.require_sim()
    ctx.max_args(1)
    index = _index_arg(ctx)
    sms = ctx.state.sms.get(ctx.state.cpms[0], index)
    if sms is None:
        return ok()
    lines = _entry(ctx, index, sms, listing=False)
    sms.status = 1 if sms.status == 0 else sms.status
    return ok(*lines)


@sms_command("+CMGL", "action", "set")
def cmgl(ctx: CommandContext) -> Reply:
    """§3.4.2 ``+CMGL[=<stat>]`` (text mode ``"REC UNREAD"``... ``"ALL"``, PDU mode 0..4;
    default unread) lists ``<mem1>``; listed unread messages become read."""
    ctx.require_sim()
    ctx.max_args(1)
    text_mode = ctx.state.settings.cmgf == 1
    if text_mode:
        wanted_text = (ctx.str_arg(0) or "REC UNREAD").upper()
        if wanted_text not in STATUS_OF_TEXT:
            raise CommandError(ctx.bad_parameter())
        wanted = STATUS_OF_TEXT[wanted_text]
    else:
        wanted = ctx.int_arg(0, 0, allowed=range(5)) or 0
    lines = []
    for index, sms in ctx.state.sms.items(ctx.state.cpms[0]):
        if wanted == 4 or sms.status == wanted:
            lines += _entry(ctx, index, sms, listing=True)
            sms.status = 1 if sms.status == 0 else sms.status
    return ok(*lines)


@sms_command("+CMGL", "test")
def cmgl_test(ctx: CommandContext) -> Reply:
    if ctx.state.settings.cmgf == 1:
        return ok("+CMGL: (" + ",".join(f'"{t}"' for t in STATUS_TEXT.values()) + ")")
    return ok("+CMGL: (0-4)")


#: §3.5.4 <delflag>: which statuses each flag deletes (0 = just the index).
DELETED_BY_FLAG = {1: {1}, 2: {1, 3}, 3: {1, 2, 3}, 4: {0, 1, 2, 3}}


@sms_command("+CMGD", "set")
def cmgd(ctx: CommandContext) -> Reply:
    """§3.5.4 ``+CMGD=<index>[,<delflag>]``: flag 0 the index; 1 all read; 2 read and sent;
    3 read, sent and unsent; 4 all (the index is then ignored)."""
    ctx.require_sim()
    ctx.max_args(2)
    flag = ctx.int_arg(1, 0, allowed=range(5)) or 0
    memory = ctx.state.cpms[0]
    store = ctx.state.sms
    if flag == 0:
        store.delete(memory, _index_arg(ctx))
        return ok()
    for index, sms in store.items(memory):
        if sms.status in DELETED_BY_FLAG[flag]:
            store.delete(memory, index)
    return ok()


@sms_command("+CMGD", "test")
def cmgd_test(ctx: CommandContext) -> Reply:
    used = ",".join(str(i) for i, _ in ctx.state.sms.items(ctx.state.cpms[0]))
    return ok(f"+CMGD: ({used}),(0-4)")


# ----------------------------------------------------------------------- +CMGS
def _submit(ctx: CommandContext, destination: str, text: str) -> Reply:
    """Hand the message to the network: needs service (CMS 331) and a service centre
    (CMS 330); answers ``+CMGS: <mr>`` (TP-MR incrementing mod 256)."""
    if not ctx.modem.network_view(ctx.now_s).registered:
        return cms(CmsError.NO_NETWORK_SERVICE)
    ctx.device.record_sms(destination, text, ctx.now_s)
    return ok(f"+CMGS: {ctx.state.next_mr()}")


def _pdu_payload(length: int):
    def on_payload(ctx: CommandContext, data: bytes) -> Reply:
        hex_text = data.decode("latin-1").strip()
        try:
            submit = decode_submit(hex_text, length)
        except ValueError:
            return cms(CmsError.INVALID_PDU_MODE_PARAMETER)
        if hex_text[:2] == "00" and not ctx.state.csca[0]:
            return cms(CmsError.SMSC_ADDRESS_UNKNOWN)
        return _submit(ctx, submit.destination, submit.text)

    return on_payload


def _text_payload(destination: str):
    def on_payload(ctx: CommandContext, data: bytes) -> Reply:
        try:
            text = from_te(data.decode("latin-1"), ctx.state.settings.cscs)
        except (ValueError, UnicodeDecodeError):
            return cms(CmsError.INVALID_TEXT_MODE_PARAMETER)
        if not ctx.state.csca[0]:
            return cms(CmsError.SMSC_ADDRESS_UNKNOWN)
        return _submit(ctx, destination, text)

    return on_payload


@sms_command("+CMGS", "set")
def cmgs(ctx: CommandContext) -> Reply:
    """§3.5.1: PDU mode ``+CMGS=<length>``, text mode ``+CMGS="<da>"[,<toda>]``; the prompt
    ``<CR><LF>> `` asks for the PDU in hex / the text, Ctrl-Z sends, ESC cancels (OK)."""
    ctx.require_sim()
    ctx.max_args(2)
    if ctx.state.settings.cmgf == 0:
        length = ctx.int_arg(0, allowed=range(1, MAX_TPDU_BYTES + 1))
        if length is None:
            raise CommandError(ctx.bad_parameter())
        return Reply(prompt=PromptRequest(_pdu_payload(length)))
    destination = te_arg(ctx, 0)
    ctx.int_arg(1, allowed=range(256))
    if not destination:
        raise CommandError(ctx.bad_parameter())
    return Reply(prompt=PromptRequest(_text_payload(destination), reprompt_on_cr=True))
