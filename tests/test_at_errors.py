"""The +CME / +CMS error code lists (TS 27.007 §9.2, TS 27.005 §3.2.5) and the AT exceptions.

Expected texts are the reference's §2 lists (``/work/shared/reference/at-commands.md``) and the
spec wording; where the reference abbreviates (32 "network not allowed, emergency calls only"),
the reverse lookup must still accept it.
"""

from __future__ import annotations

import pytest

from cellfleet.modem import errors
from cellfleet.modem.errors import (
    AtError,
    AtSyntaxError,
    AtTimeout,
    CmeError,
    CmeException,
    CmsError,
    CmsException,
    CommandFailed,
    PortGone,
    cme_code,
    cme_text,
    cms_code,
    cms_text,
    exception_for_final,
    parse_error_line,
)

#: The reference §2 "+CME ERROR" list, verbatim (code, text).
REFERENCE_CME = [
    (0, "phone failure"),
    (3, "operation not allowed"),
    (4, "operation not supported"),
    (10, "SIM not inserted"),
    (11, "SIM PIN required"),
    (12, "SIM PUK required"),
    (13, "SIM failure"),
    (14, "SIM busy"),
    (15, "SIM wrong"),
    (16, "incorrect password"),
    (20, "memory full"),
    (21, "invalid index"),
    (22, "not found"),
    (23, "memory failure"),
    (30, "no network service"),
    (31, "network timeout"),
    (32, "network not allowed, emergency calls only"),
    (50, "incorrect parameters"),
    (100, "unknown"),
    (103, "illegal MS"),
    (106, "illegal ME"),
    (107, "GPRS services not allowed"),
    (111, "PLMN not allowed"),
    (112, "location area not allowed"),
    (113, "roaming not allowed in this location area"),
    (148, "unspecified GPRS error"),
    (149, "PDP authentication failure"),
    (515, "please wait, init or command in progress"),
]

#: The reference §2 "+CMS ERROR" list, verbatim.
REFERENCE_CMS = [
    (300, "ME failure"),
    (301, "SMS service reserved"),
    (302, "operation not allowed"),
    (303, "operation not supported"),
    (304, "invalid PDU mode parameter"),
    (305, "invalid text mode parameter"),
    (310, "SIM not inserted"),
    (311, "SIM PIN required"),
    (313, "SIM failure"),
    (314, "SIM busy"),
    (320, "memory failure"),
    (321, "invalid memory index"),
    (322, "memory full"),
    (330, "SMSC address unknown"),
    (331, "no network service"),
    (332, "network timeout"),
    (340, "no +CNMA acknowledgement expected"),
    (500, "unknown"),
    (38, "network out of order"),
    (42, "congestion"),
]


@pytest.mark.parametrize(("code", "text"), REFERENCE_CME)
def test_every_reference_cme_code_is_named_and_reverse_looked_up(code, text):
    assert int(CmeError(code)) == code
    assert cme_code(text) == code
    assert cme_code(text.upper()) == code
    assert cme_code(str(code)) == code


@pytest.mark.parametrize(("code", "text"), REFERENCE_CMS)
def test_every_reference_cms_code_is_reverse_looked_up(code, text):
    assert cms_code(text) == code
    assert cms_code(str(code)) == code
    if code >= 300:
        assert int(CmsError(code)) == code


def test_interface_names_have_the_spec_values():
    assert (CmeError.PHONE_FAILURE, CmeError.OPERATION_NOT_ALLOWED, CmeError.OPERATION_NOT_SUPPORTED) == (0, 3, 4)
    assert (CmeError.SIM_NOT_INSERTED, CmeError.SIM_PIN_REQUIRED, CmeError.SIM_PUK_REQUIRED) == (10, 11, 12)
    assert (CmeError.SIM_FAILURE, CmeError.SIM_BUSY, CmeError.SIM_WRONG, CmeError.INCORRECT_PASSWORD) == (
        13,
        14,
        15,
        16,
    )
    assert (CmeError.MEMORY_FULL, CmeError.INVALID_INDEX, CmeError.NOT_FOUND, CmeError.MEMORY_FAILURE) == (
        20,
        21,
        22,
        23,
    )
    assert (CmeError.NO_NETWORK_SERVICE, CmeError.NETWORK_TIMEOUT, CmeError.NETWORK_NOT_ALLOWED) == (30, 31, 32)
    assert (CmeError.INCORRECT_PARAMETERS, CmeError.UNKNOWN, CmeError.PLEASE_WAIT) == (50, 100, 515)
    assert (CmsError.ME_FAILURE, CmsError.UNKNOWN, CmsError.SMSC_ADDRESS_UNKNOWN) == (300, 500, 330)


def test_cme_text_spec_wording():
    assert cme_text(10) == "SIM not inserted"
    assert cme_text(14) == "SIM busy"
    assert cme_text(32) == "network not allowed - emergency calls only"
    assert cme_text(515) == "please wait, init or command in progress"
    assert cme_text(777) == "unknown error 777"


def test_nrf91_reads_515_as_memory_full_in_its_security_commands():
    assert cme_text(515, vendor="nrf91") == "memory full"
    assert cme_text(513, vendor="nrf91") == "not found"
    assert cme_text(519, vendor="nrf91") == "already exists"
    assert cme_text(10, vendor="nrf91") == "SIM not inserted"


def test_cms_text_covers_27005_and_network_causes():
    assert cms_text(330) == "SMSC address unknown"
    assert cms_text(500) == "unknown error"
    assert cms_text(38) == "network out of order"
    assert cms_text(42) == "congestion"
    assert cms_text(777) == "unknown error 777"


def test_every_verbose_text_maps_back_to_its_code():
    for code, text in errors.CME_TEXT.items():
        if code not in (513, 514, 518, 519):  # nRF91 texts collide with 22 / 3; numeric only
            assert cme_code(text) == code, text
    for code, text in {**errors.CMS_NETWORK_TEXT, **errors.CMS_TEXT}.items():
        assert cms_code(text) == code, text


def test_reverse_lookup_tolerates_u_prefix_case_and_punctuation():
    assert cms_code("(U)SIM not inserted") == 310
    assert cme_code("  sim   NOT inserted ") == 10
    assert cme_code("Network not allowed - emergency calls only") == 32
    assert cme_code('"10"') == 10


def test_unknown_verbose_text_has_no_code():
    assert cme_code("flux capacitor overload") is None
    assert cms_code("flux capacitor overload") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("+CME ERROR: 10", ("CME", 10, "10")),
        ("+CME ERROR: SIM not inserted", ("CME", 10, "SIM not inserted")),
        ("+CME ERROR:515", ("CME", 515, "515")),
        ("+cme error: sim busy", ("CME", 14, "sim busy")),
        ("+CME ERROR: flux capacitor", ("CME", None, "flux capacitor")),
        ("+CMS ERROR: 330", ("CMS", 330, "330")),
        ("+CMS ERROR: SMSC address unknown", ("CMS", 330, "SMSC address unknown")),
        ("+CMS ERROR: 42", ("CMS", 42, "42")),
        ("OK", None),
        ("ERROR", None),
        ("+CMEE: 1", None),
    ],
)
def test_parse_error_line(line, expected):
    assert parse_error_line(line) == expected


def test_exception_hierarchy():
    assert issubclass(CommandFailed, AtError)
    assert issubclass(CmeException, CommandFailed)
    assert issubclass(CmsException, CommandFailed)
    assert issubclass(AtTimeout, AtError)
    assert issubclass(PortGone, AtError)
    assert issubclass(AtSyntaxError, AtError)
    assert issubclass(AtSyntaxError, ValueError)


def test_exception_for_final_cme_numeric():
    exc = exception_for_final("AT+CIMI", "+CME ERROR: 10")
    assert type(exc) is CmeException
    assert (exc.command, exc.final, exc.code, exc.name, exc.text) == (
        "AT+CIMI",
        "+CME ERROR: 10",
        10,
        "SIM_NOT_INSERTED",
        "SIM not inserted",
    )
    assert str(exc) == "AT+CIMI: +CME ERROR: 10"


def test_exception_for_final_cme_verbose_and_unknown():
    busy = exception_for_final("AT+CPIN?", "+CME ERROR: SIM busy")
    assert (busy.code, busy.name) == (14, "SIM_BUSY")
    odd = exception_for_final("AT+X", "+CME ERROR: flux capacitor")
    assert isinstance(odd, CmeException)
    assert (odd.code, odd.name, odd.text) == (None, None, "flux capacitor")
    vendor = exception_for_final("AT+X", "+CME ERROR: 777")
    assert (vendor.code, vendor.name, vendor.text) == (777, None, "unknown error 777")


def test_exception_for_final_cms_and_plain():
    cms = exception_for_final("AT+CMGS=28", "+CMS ERROR: 330")
    assert type(cms) is CmsException
    assert (cms.code, cms.name, cms.text) == (330, "SMSC_ADDRESS_UNKNOWN", "SMSC address unknown")
    network = exception_for_final("AT+CMGS=28", "+CMS ERROR: 42")
    assert (network.code, network.name, network.text) == (42, None, "congestion")
    plain = exception_for_final("AT+ZPAS?", "ERROR")
    assert type(plain) is CommandFailed
    assert (plain.command, plain.final) == ("AT+ZPAS?", "ERROR")


def test_timeout_carries_command_and_seconds():
    exc = AtTimeout("AT+COPS=?", 315.0)
    assert (exc.command, exc.timeout_s) == ("AT+COPS=?", 315.0)
    assert str(exc) == "AT+COPS=?: no final result within 315 s"
