"""V.250 basic commands, identification, errors and the SIM: E V Q X &C &D Z &F &W I H, the
S-registers, +GCAP, +CGMI/+CGMM/+CGMR/+CGSN (+GMI/+GMM/+GMR/+GSN), +CIMI, +CNUM, +CLAC, +CMEE,
+CPIN, +CRSM and the vendor ICCID commands."""

from __future__ import annotations

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Reply,
    cme,
    error,
    ok,
    register,
)
from cellfleet.modem.errors import CmeError
from cellfleet.modem.state import PIN_ATTEMPTS, PUK_ATTEMPTS

# ----------------------------------------------------------------------- V.250 §6.2 settings
#: basic command -> (TaSettings field, accepted values); V.250: a missing value means 0.
_BASIC_SETTINGS = {
    "E": ("echo", (0, 1)),  # §6.2.4 command echo
    "Q": ("quiet", (0, 1)),  # §6.2.5 result code suppression
    "V": ("verbose", (0, 1)),  # §6.2.6 response format
    "X": ("x_level", (0, 1, 2, 3, 4)),  # §6.2.7 result code selection
    "&C": ("dcd_mode", (0, 1)),  # §6.2.8 circuit 109 (DCD) behaviour
    "&D": ("dtr_mode", (0, 1, 2)),  # §6.2.9 circuit 108 (DTR) behaviour
}


def _basic_setting(ctx: CommandContext) -> Reply:
    field, allowed = _BASIC_SETTINGS[ctx.command.name]
    value = int(ctx.command.args or "0")
    if value not in allowed:
        return error()
    current = getattr(ctx.state.settings, field)
    setattr(ctx.state.settings, field, bool(value) if isinstance(current, bool) else value)
    return ok()


for _name in _BASIC_SETTINGS:
    register(_name, "action")(_basic_setting)


@register("Z", "action")
def reset_to_stored(ctx: CommandContext) -> Reply:
    """V.250 §6.1.1: ATZ[0] restores the stored profile (AT&W)."""
    if ctx.command.args not in ("", "0"):
        return error()
    ctx.state.settings = ctx.state.stored.copy()
    return ok()


@register("&F", "action")
def factory_defaults(ctx: CommandContext) -> Reply:
    """V.250 §6.1.2: AT&F[0] sets the factory-defined configuration (the stored one is kept)."""
    if ctx.command.args not in ("", "0"):
        return error()
    ctx.state.settings = type(ctx.state.settings)()
    return ok()


@register("&W", "action")
def store_profile(ctx: CommandContext) -> Reply:
    """AT&W[0] stores the current settings as the profile ATZ restores (one profile, 0)."""
    if ctx.command.args not in ("", "0"):
        return error()
    ctx.state.stored = ctx.state.settings.copy()
    return ok()


@register("H", "action")
def hook_control(ctx: CommandContext) -> Reply:
    """V.250 §6.3.6: hang up; no call is ever up, so just OK."""
    return ok() if ctx.command.args in ("", "0") else error()


@register("I", "action")
def identification(ctx: CommandContext) -> Reply:
    """V.250 §6.1.3: ATI / ATI0 identification text (free form, profile's lines)."""
    if ctx.command.args not in ("", "0"):
        return error()
    return ok(*ctx.profile.ati_lines)


# ----------------------------------------------------------------------- V.250 §6.2 S-registers
#: V.250 §6.2.1-§6.2.3, §6.3.x: ranges of the S-parameters (S3/S4/S5 are characters 0..127).
S_RANGES = {0: range(256), 3: range(128), 4: range(128), 5: range(128), 6: range(2, 11),
            7: range(1, 256), 8: range(256), 10: range(1, 255)}  # fmt: skip


def _s_register(ctx: CommandContext) -> Reply:
    """V.250 §5.3.2: ``Sn=<value>`` sets, ``Sn?`` reads as three decimal digits. S3 and S5 are
    the command line's terminator and editing character from the next command line on (V.250
    §6.2.1: the line that sets S3 was ended by the old one; §6.2.3); S3 and S4 frame responses
    from this command's own result on (§6.2.1, §6.2.2) — virtual.py applies them."""
    number = int(ctx.command.name[1:])
    registers = ctx.state.settings.s_registers
    if ctx.command.form == "read":
        return ok(f"{registers[number]:03d}")
    if ctx.command.form == "test":
        allowed = S_RANGES[number]
        return ok(f"S{number}: ({allowed.start}-{allowed.stop - 1})")
    if ctx.command.form != "set" or not ctx.command.args.isdigit():
        return error()
    value = int(ctx.command.args)
    if value not in S_RANGES[number]:
        return error()
    registers[number] = value
    return ok()


for _number in S_RANGES:
    register(f"S{_number}", "set", "read", "test")(_s_register)


# ----------------------------------------------------------------------- identification
@register("+GCAP", "action")
def capabilities(ctx: CommandContext) -> Reply:
    """V.250 §6.1.9: complete capabilities list (+CGSM = 27.007 GSM commands)."""
    return ok(ctx.profile.gcap)


@register("+CGMI", "action")
@register("+GMI", "action")
def manufacturer(ctx: CommandContext) -> Reply:
    """27.007 §5.1 / V.250 §6.1.4: manufacturer, a bare line."""
    return ok(ctx.profile.manufacturer)


@register("+CGMM", "action")
@register("+GMM", "action")
def model(ctx: CommandContext) -> Reply:
    """27.007 §5.2 / V.250 §6.1.5: model."""
    return ok(ctx.profile.model)


@register("+CGMR", "action")
@register("+GMR", "action")
def revision(ctx: CommandContext) -> Reply:
    """27.007 §5.3 / V.250 §6.1.6: firmware revision."""
    return ok(ctx.profile.revision)


@register("+GSN", "action")
def serial_number(ctx: CommandContext) -> Reply:
    """V.250 §6.1.7: the serial number, the bare IMEI."""
    return ok(ctx.device.imei)


#: TS 23.003 §6.2.2: IMEISV = TAC + SNR (the IMEI without its check digit) + 2-digit SVN.
SOFTWARE_VERSION_NUMBER = "01"


@register("+CGSN", "action", "set")
def cgsn(ctx: CommandContext) -> Reply:
    """27.007 §5.4: ``+CGSN`` / ``+CGSN=0`` the bare serial number; ``=1`` ``+CGSN: "<imei>"``,
    ``=2`` the IMEISV, ``=3`` the SVN (quoted strings)."""
    snt = ctx.int_arg(0, 0, allowed=range(4)) if ctx.command.form == "set" else 0
    imei = ctx.device.imei
    if snt == 0:
        return ok(imei)
    value = {1: imei, 2: imei[:14] + SOFTWARE_VERSION_NUMBER, 3: SOFTWARE_VERSION_NUMBER}[snt or 0]
    return ok(f'+CGSN: "{value}"')


@register("+CGSN", "test")
def cgsn_test(ctx: CommandContext) -> Reply:
    return ok("+CGSN: (0-3)")


@register("+CIMI", "action")
def imsi(ctx: CommandContext) -> Reply:
    """27.007 §5.6: the IMSI, bare; the SIM must be unlocked."""
    ctx.require_sim()
    return ok(ctx.device.imsi)


@register("+CNUM", "action")
def subscriber_number(ctx: CommandContext) -> Reply:
    """27.007 §7.1: ``+CNUM: ,"<number>",<type>`` (145 international, 129 otherwise)."""
    ctx.require_sim()
    number = ctx.device.msisdn
    return ok(f'+CNUM: ,"{number}",{145 if number.startswith("+") else 129}')


@register("+CLAC", "action")
def command_list(ctx: CommandContext) -> Reply:
    """27.007 §8.37: the commands this modem has, one per line."""
    return ok(*ctx.modem.supported_commands)


# ----------------------------------------------------------------------- errors
@register("+CMEE", "set")
def cmee_set(ctx: CommandContext) -> Reply:
    """27.007 §9.1: 0 plain ERROR, 1 numeric, 2 verbose +CME ERROR; ``AT+CMEE=`` is 0."""
    ctx.max_args(1)
    ctx.state.settings.cmee = ctx.int_arg(0, 0, allowed=(0, 1, 2)) or 0
    return ok()


@register("+CMEE", "read")
def cmee_read(ctx: CommandContext) -> Reply:
    return ok(f"+CMEE: {ctx.state.settings.cmee}")


@register("+CMEE", "test")
def cmee_test(ctx: CommandContext) -> Reply:
    return ok("+CMEE: (0-2)")


# ----------------------------------------------------------------------- SIM (27.007 §8.3)
@register("+CPIN", "read")
def cpin_read(ctx: CommandContext) -> Reply:
    """``+CPIN: READY`` / ``SIM PIN`` / ``SIM PUK``; CME 10 without a SIM, CME 13 "SIM failure"
    (27.007 §9.2.1) once the PUK is blocked (27.007 §8.3 has no <code> for it)."""
    state = ctx.modem.sim_state()
    if state == "NOT INSERTED":
        return cme(CmeError.SIM_NOT_INSERTED)
    if state == "SIM BLOCKED":
        return cme(CmeError.SIM_FAILURE)
    return ok(f"+CPIN: {state}")


@register("+CPIN", "set")
def cpin_set(ctx: CommandContext) -> Reply:
    """``+CPIN="<pin>"`` unlocks; ``+CPIN="<puk>","<new pin>"`` unblocks after three wrong PINs.
    Wrong: CME 16 (incorrect password); nothing to unlock: CME 3. The tenth wrong PUK blocks the
    SIM for good (TS 31.101 / ETSI TS 102 221 §9.5): CME 13 from then on. On success the
    profile's SIM-ready URCs follow (reference §5)."""
    state = ctx.modem.sim_state()
    if state == "NOT INSERTED":
        return cme(CmeError.SIM_NOT_INSERTED)
    if state == "SIM BLOCKED":
        return cme(CmeError.SIM_FAILURE)
    if state == "READY":
        return cme(CmeError.OPERATION_NOT_ALLOWED)
    ctx.max_args(2)
    code, new_pin = ctx.str_arg(0), ctx.str_arg(1)
    if code is None:
        raise CommandError(ctx.bad_parameter())
    device, sim = ctx.device, ctx.state
    if state == "SIM PIN":
        if code != device.sim_pin:
            sim.pin_attempts_left -= 1
            return cme(CmeError.INCORRECT_PASSWORD)
    else:  # SIM PUK: TS 31.101 unblocking with the PUK sets a new PIN
        if new_pin is None:
            return cme(CmeError.SIM_PUK_REQUIRED)
        if code != device.sim_puk:
            sim.puk_attempts_left -= 1
            return cme(CmeError.INCORRECT_PASSWORD)  # the tenth leaves the SIM blocked
        device.sim_pin = new_pin
        sim.puk_attempts_left = PUK_ATTEMPTS
    sim.sim_unlocked = True
    sim.pin_attempts_left = PIN_ATTEMPTS
    for text in ctx.profile.sim_ready_urcs:
        ctx.urc(text)
    return ok()


# ----------------------------------------------------------------------- ICCID
def iccid_bcd(iccid: str) -> str:
    """EF_ICCID content (TS 31.102 §4.1.1 / TS 51.011 §10.1.1): BCD with the nibbles of each
    byte swapped, padded with F to 10 bytes."""
    digits = iccid.upper().ljust(20, "F")
    return "".join(digits[i + 1] + digits[i] for i in range(0, 20, 2))


#: ISO 7816-4 status words: 144,0 = 90 00 success; 106,130 = 6A 82 file not found;
#: 109,0 = 6D 00 instruction not supported; 103,0 = 67 00 wrong length.
EF_ICCID = 12258  # 0x2FE2
READ_BINARY = 176


@register("+CRSM", "set")
def restricted_sim_access(ctx: CommandContext) -> Reply:
    """27.007 §8.18: only READ BINARY of EF_ICCID (``+CRSM=176,12258,0,0,10``, what ModemManager
    sends) is modelled; other files give 6A 82, other commands 6D 00."""
    ctx.require_sim(pin=False)
    command = ctx.int_arg(0)
    file_id = ctx.int_arg(1)
    p1, p2, p3 = ctx.int_arg(2, 0), ctx.int_arg(3, 0), ctx.int_arg(4, 10)
    if command is None:
        raise CommandError(ctx.bad_parameter())
    if command != READ_BINARY:
        return ok("+CRSM: 109,0")
    if file_id != EF_ICCID:
        return ok("+CRSM: 106,130")
    data = iccid_bcd(ctx.device.iccid)
    offset = ((p1 or 0) << 8) + (p2 or 0)
    if p3 is None or not 1 <= p3 <= 10 - offset:
        return ok("+CRSM: 103,0")
    return ok(f'+CRSM: 144,0,"{data[2 * offset : 2 * (offset + p3)]}"')


def _iccid(ctx: CommandContext) -> Reply:
    """Vendor ICCID reads (reference §3): ``<name>: <iccid>``; readable without the PIN."""
    ctx.require_sim(pin=False)
    return ok(f"{ctx.command.name}: {ctx.device.iccid}")


for _name in ("+QCCID", "+CCID", "+ICCID", "%XICCID", "#CCID"):
    register(_name, "action")(_iccid)
