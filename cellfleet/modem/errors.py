"""Typed errors of the AT layer: the 27.007 / 27.005 error code lists and the exceptions raised
by the codec and the driver.

``+CME ERROR: <err>`` (3GPP TS 27.007 §9.1, codes §9.2) reports mobile-equipment errors and
``+CMS ERROR: <err>`` (TS 27.005 §3.2.5) SMS errors. ``<err>`` is numeric (``+CMEE=1``) or the
verbose text (``+CMEE=2``), so both spellings map to the same code here: ``cme_code`` and
``cms_code`` reverse-look-up the verbose texts, tolerant of case, punctuation and the ``(U)``
prefix newer spec editions put before "SIM".
"""

from __future__ import annotations

import enum
import re


class CmeError(enum.IntEnum):
    """``+CME ERROR`` codes: 3GPP TS 27.007 §9.2.1 (general), §9.2.2 (GPRS/EPS), plus vendor codes."""

    PHONE_FAILURE = 0
    NO_CONNECTION_TO_PHONE = 1
    PHONE_ADAPTOR_LINK_RESERVED = 2
    OPERATION_NOT_ALLOWED = 3
    OPERATION_NOT_SUPPORTED = 4
    PH_SIM_PIN_REQUIRED = 5
    PH_FSIM_PIN_REQUIRED = 6
    PH_FSIM_PUK_REQUIRED = 7
    SIM_NOT_INSERTED = 10
    SIM_PIN_REQUIRED = 11
    SIM_PUK_REQUIRED = 12
    SIM_FAILURE = 13
    SIM_BUSY = 14
    SIM_WRONG = 15
    INCORRECT_PASSWORD = 16
    SIM_PIN2_REQUIRED = 17
    SIM_PUK2_REQUIRED = 18
    MEMORY_FULL = 20
    INVALID_INDEX = 21
    NOT_FOUND = 22
    MEMORY_FAILURE = 23
    TEXT_STRING_TOO_LONG = 24
    INVALID_CHARACTERS_IN_TEXT_STRING = 25
    DIAL_STRING_TOO_LONG = 26
    INVALID_CHARACTERS_IN_DIAL_STRING = 27
    NO_NETWORK_SERVICE = 30
    NETWORK_TIMEOUT = 31
    NETWORK_NOT_ALLOWED = 32
    NETWORK_PERSONALIZATION_PIN_REQUIRED = 40
    NETWORK_PERSONALIZATION_PUK_REQUIRED = 41
    NETWORK_SUBSET_PERSONALIZATION_PIN_REQUIRED = 42
    NETWORK_SUBSET_PERSONALIZATION_PUK_REQUIRED = 43
    SERVICE_PROVIDER_PERSONALIZATION_PIN_REQUIRED = 44
    SERVICE_PROVIDER_PERSONALIZATION_PUK_REQUIRED = 45
    CORPORATE_PERSONALIZATION_PIN_REQUIRED = 46
    CORPORATE_PERSONALIZATION_PUK_REQUIRED = 47
    INCORRECT_PARAMETERS = 50
    UNKNOWN = 100
    # TS 27.007 §9.2.2.1: errors related to a failure to perform an attach (EMM/GMM causes + 100)
    ILLEGAL_MS = 103
    ILLEGAL_ME = 106
    GPRS_SERVICES_NOT_ALLOWED = 107
    PLMN_NOT_ALLOWED = 111
    LOCATION_AREA_NOT_ALLOWED = 112
    ROAMING_NOT_ALLOWED_IN_LOCATION_AREA = 113
    # TS 27.007 §9.2.2.2 / §9.2.2.3: PDP context activation and other GPRS errors
    UNSPECIFIED_GPRS_ERROR = 148
    PDP_AUTHENTICATION_FAILURE = 149
    # nRF91 security commands %CMNG / %XPMNG (Nordic nRF91 AT command reference, "CME ERROR codes");
    # nRF91 uses 515 for "memory full" there, see NRF91_CME_TEXT
    NRF91_NOT_FOUND = 513
    NRF91_NO_ACCESS = 514
    # vendor (Wavecom/Sierra and others; python-gsmmodem retries on it, reference §2)
    PLEASE_WAIT = 515
    NRF91_NOT_ALLOWED_IN_ACTIVE_STATE = 518
    NRF91_ALREADY_EXISTS = 519


#: Verbose texts (TS 27.007 §9.2; vendor texts as the reference §2 quotes them).
CME_TEXT: dict[int, str] = {
    0: "phone failure",
    1: "no connection to phone",
    2: "phone-adaptor link reserved",
    3: "operation not allowed",
    4: "operation not supported",
    5: "PH-SIM PIN required",
    6: "PH-FSIM PIN required",
    7: "PH-FSIM PUK required",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    17: "SIM PIN2 required",
    18: "SIM PUK2 required",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    26: "dial string too long",
    27: "invalid characters in dial string",
    30: "no network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    40: "network personalization PIN required",
    41: "network personalization PUK required",
    42: "network subset personalization PIN required",
    43: "network subset personalization PUK required",
    44: "service provider personalization PIN required",
    45: "service provider personalization PUK required",
    46: "corporate personalization PIN required",
    47: "corporate personalization PUK required",
    50: "Incorrect parameters",
    100: "unknown",
    103: "Illegal MS",
    106: "Illegal ME",
    107: "GPRS services not allowed",
    111: "PLMN not allowed",
    112: "Location area not allowed",
    113: "Roaming not allowed in this location area",
    148: "unspecified GPRS error",
    149: "PDP authentication failure",
    513: "not found",
    514: "not allowed",
    515: "please wait, init or command in progress",
    518: "not allowed in active state",
    519: "already exists",
}
#: nRF91 %CMNG / %XPMNG give 515 another meaning (Nordic nRF91 AT command reference).
NRF91_CME_TEXT: dict[int, str] = {**CME_TEXT, 515: "memory full"}
#: Spellings real modules print for the same code (the reference §2 spells 32 with a comma; 100 is
#: often "unknown error"), accepted by the reverse lookup only.
_CME_ALIASES: dict[str, int] = {
    "network not allowed, emergency calls only": 32,
    "unknown error": 100,
    "phone adapter link reserved": 2,
}


class CmsError(enum.IntEnum):
    """``+CMS ERROR`` codes of the ME/TA: 3GPP TS 27.005 §3.2.5 (0..255 are network and TP causes,
    see ``CMS_NETWORK_TEXT``)."""

    ME_FAILURE = 300
    SMS_SERVICE_RESERVED = 301
    OPERATION_NOT_ALLOWED = 302
    OPERATION_NOT_SUPPORTED = 303
    INVALID_PDU_MODE_PARAMETER = 304
    INVALID_TEXT_MODE_PARAMETER = 305
    SIM_NOT_INSERTED = 310
    SIM_PIN_REQUIRED = 311
    PH_SIM_PIN_REQUIRED = 312
    SIM_FAILURE = 313
    SIM_BUSY = 314
    SIM_WRONG = 315
    SIM_PUK_REQUIRED = 316
    SIM_PIN2_REQUIRED = 317
    SIM_PUK2_REQUIRED = 318
    MEMORY_FAILURE = 320
    INVALID_MEMORY_INDEX = 321
    MEMORY_FULL = 322
    SMSC_ADDRESS_UNKNOWN = 330
    NO_NETWORK_SERVICE = 331
    NETWORK_TIMEOUT = 332
    NO_CNMA_ACK_EXPECTED = 340
    UNKNOWN = 500


#: Verbose texts of TS 27.005 §3.2.5 (the "(U)" of newer editions left out, as modules print them).
CMS_TEXT: dict[int, str] = {
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    317: "SIM PIN2 required",
    318: "SIM PUK2 required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
}
#: ``+CMS ERROR`` 0..127: RP causes of TS 24.011 §8.2.5.4 / Table 8.4 forwarded by the TA;
#: 128..255: TP-Failure-Cause values of TS 23.040 §9.2.3.22 (TS 27.005 §3.2.5 points to both).
CMS_NETWORK_TEXT: dict[int, str] = {
    1: "unassigned (unallocated) number",
    8: "operator determined barring",
    10: "call barred",
    21: "short message transfer rejected",
    27: "destination out of service",
    28: "unidentified subscriber",
    29: "facility rejected",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable, unspecified",
    50: "requested facility not subscribed",
    69: "requested facility not implemented",
    81: "invalid short message transfer reference value",
    95: "invalid message, unspecified",
    96: "invalid mandatory information",
    97: "message type non-existent or not implemented",
    98: "message not compatible with short message protocol state",
    99: "information element non-existent or not implemented",
    111: "protocol error, unspecified",
    127: "interworking, unspecified",
    128: "telematic interworking not supported",
    129: "short message type 0 not supported",
    130: "cannot replace short message",
    143: "unspecified TP-PID error",
    144: "data coding scheme (alphabet) not supported",
    145: "message class not supported",
    159: "unspecified TP-DCS error",
    160: "command cannot be actioned",
    161: "command unsupported",
    175: "unspecified TP-Command error",
    176: "TPDU not supported",
    192: "SC busy",
    193: "no SC subscription",
    194: "SC system failure",
    195: "invalid SME address",
    196: "destination SME barred",
    197: "SM rejected-duplicate SM",
    198: "TP-VPF not supported",
    199: "TP-VP not supported",
    208: "SIM SMS storage full",
    209: "no SMS storage capability in SIM",
    210: "error in MS",
    211: "memory capacity exceeded",
    212: "SIM application toolkit busy",
    213: "SIM data download error",
    255: "unspecified error cause",
}
_CMS_ALIASES: dict[str, int] = {"SMS service reserved": 301, "unknown": 500}


def _normalise(text: str) -> str:
    """Key for the verbose-text lookup: case, punctuation, spacing and "(U)" do not matter."""
    return re.sub(r"[^a-z0-9+]", "", text.lower().replace("(u)", ""))


_CME_BY_TEXT: dict[str, int] = {
    _normalise(text): code for code, text in CME_TEXT.items() if code not in (513, 514, 518, 519)
} | {_normalise(text): code for text, code in _CME_ALIASES.items()}
_CMS_BY_TEXT: dict[str, int] = (
    {_normalise(text): code for code, text in CMS_NETWORK_TEXT.items()}
    | {_normalise(text): code for code, text in CMS_TEXT.items()}
    | {_normalise(text): code for text, code in _CMS_ALIASES.items()}
)


def cme_text(code: int, *, vendor: str | None = None) -> str:
    """The TS 27.007 §9.2 verbose text of a ``+CME ERROR`` code, e.g. ``cme_text(10) == "SIM not
    inserted"``; ``vendor="nrf91"`` reads 513..519 as the nRF91 security-command codes.
    Unknown codes give ``"unknown error <code>"``."""
    table = NRF91_CME_TEXT if vendor == "nrf91" else CME_TEXT
    return table.get(code, f"unknown error {code}")


def cms_text(code: int) -> str:
    """The TS 27.005 §3.2.5 verbose text of a ``+CMS ERROR`` code (0..255: TS 24.011 RP cause or
    TS 23.040 TP-FCS); unknown codes give ``"unknown error <code>"``."""
    return CMS_TEXT.get(code) or CMS_NETWORK_TEXT.get(code) or f"unknown error {code}"


def cme_code(text: str) -> int | None:
    """The code of a ``+CME ERROR`` ``<err>`` field, numeric (``"10"``) or verbose (``"SIM not
    inserted"``, any case); ``None`` if the text is not a known verbose text."""
    return _code_of(text, _CME_BY_TEXT)


def cms_code(text: str) -> int | None:
    """The code of a ``+CMS ERROR`` ``<err>`` field, numeric or verbose; ``None`` if unknown."""
    return _code_of(text, _CMS_BY_TEXT)


def _code_of(text: str, by_text: dict[str, int]) -> int | None:
    stripped = text.strip().strip('"').strip()
    if stripped.isdigit() and stripped.isascii():
        return int(stripped)
    return by_text.get(_normalise(stripped))


_ERROR_LINE = re.compile(r"^\+(CME|CMS) ERROR\s*:\s*(.*)$", re.IGNORECASE)


def parse_error_line(line: str) -> tuple[str, int | None, str] | None:
    """Split a ``+CME ERROR: <err>`` / ``+CMS ERROR: <err>`` line into ``(kind, code, text)``:
    kind ``"CME"`` or ``"CMS"``, the code (``None`` for an unknown verbose text) and the raw
    ``<err>`` text. ``None`` if the line is neither."""
    match = _ERROR_LINE.match(line.strip())
    if match is None:
        return None
    kind, err = match.group(1).upper(), match.group(2).strip()
    code = cme_code(err) if kind == "CME" else cms_code(err)
    return kind, code, err


class AtError(Exception):
    """Base of everything the AT layer raises."""


class AtSyntaxError(AtError, ValueError):
    """A command line or a response that does not follow V.250 §5 / TS 27.007 §4 syntax."""


class CommandFailed(AtError):
    """A command ended with an error final result (``ERROR``, ``NO CARRIER``, ``SEND FAIL``...)."""

    def __init__(self, command: str, final: str) -> None:
        super().__init__(f"{command}: {final}")
        self.command = command
        self.final = final


class CmeException(CommandFailed):
    """``+CME ERROR: <err>`` (TS 27.007 §9.1); ``code`` is ``None`` for an unknown verbose text,
    which is kept in ``text``."""

    def __init__(self, command: str, final: str, code: int | None, text: str = "") -> None:
        super().__init__(command, final)
        self.code = code
        self.text = text or (cme_text(code) if code is not None else "")

    @property
    def name(self) -> str | None:
        """The ``CmeError`` member name (``"SIM_BUSY"``), ``None`` for codes outside the enum."""
        try:
            return CmeError(self.code).name if self.code is not None else None
        except ValueError:
            return None


class CmsException(CommandFailed):
    """``+CMS ERROR: <err>`` (TS 27.005 §3.2.5); ``code`` is ``None`` for an unknown verbose text."""

    def __init__(self, command: str, final: str, code: int | None, text: str = "") -> None:
        super().__init__(command, final)
        self.code = code
        self.text = text or (cms_text(code) if code is not None else "")

    @property
    def name(self) -> str | None:
        """The ``CmsError`` member name, ``None`` for network causes and unknown codes."""
        try:
            return CmsError(self.code).name if self.code is not None else None
        except ValueError:
            return None


class AtTimeout(AtError):
    """No final result within ``timeout_s`` seconds."""

    def __init__(self, command: str, timeout_s: float) -> None:
        super().__init__(f"{command}: no final result within {timeout_s:g} s")
        self.command = command
        self.timeout_s = timeout_s


class PortGone(AtError):
    """The serial port vanished (EIO, hang-up, USB re-enumeration; reference §8 item 5)."""


def exception_for_final(command: str, final: str) -> CommandFailed:
    """The exception a failed command raises for its final result line: ``CmeException`` /
    ``CmsException`` with the code for ``+CME ERROR`` / ``+CMS ERROR``, else ``CommandFailed``."""
    parsed = parse_error_line(final)
    if parsed is None:
        return CommandFailed(command, final)
    kind, code, text = parsed
    cls = CmeException if kind == "CME" else CmsException
    return cls(command, final, code, text if code is None else "")
