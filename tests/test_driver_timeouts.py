"""Per-command timeouts: the values of reference §8.3, matched by name, form and leading arguments."""

from __future__ import annotations

import pytest

from cellfleet.modem.timeouts import (
    BUILTIN_RULES,
    DEFAULT_TIMEOUT_S,
    TimeoutRule,
    TimeoutTable,
)


@pytest.mark.parametrize(
    ("line", "timeout_s"),
    [
        ("AT+COPS=?", 315.0),  # ModemManager: network scan
        ("AT+cops=?", 315.0),  # names are case-insensitive (V.250 §5.1)
        ("AT+COPS=0", 120.0),  # ModemManager: automatic selection
        ('AT+COPS=1,2,"00101",7', 120.0),
        ("AT+COPS=4,2,\"00101\"", 120.0),
        ("AT+COPS=3,2", 5.0),  # format only: local
        ("AT+COPS?", 5.0),
        ("AT+QIACT=1", 150.0),  # Quectel BG96 TCP/IP note
        ("AT+QIACT?", 150.0),
        ('AT+QIOPEN=1,0,"TCP","10.0.0.1",80,0,0', 150.0),
        ("AT+QIDEACT=1", 40.0),
        ("AT+QICLOSE=0", 10.0),
        ("AT+CGACT=1,1", 150.0),
        ("AT+CMGS=28", 120.0),  # Quectel: determined by network
        ("AT+CPIN?", 15.0),  # python-gsmmodem waits 15 s
        ("AT+CFUN=1", 15.0),
        ("AT+CGMI", DEFAULT_TIMEOUT_S),
        ("ATE0", DEFAULT_TIMEOUT_S),
        ("AT", DEFAULT_TIMEOUT_S),
        ("+COPS=?", 315.0),  # the AT prefix is optional
    ],
)
def test_builtin_timeouts(line, timeout_s):
    assert TimeoutTable().timeout_for(line) == timeout_s


def test_a_chained_line_takes_the_sum_of_its_commands():
    # V.250 §5.2.1: the commands of one line run one after the other.
    assert TimeoutTable().timeout_for("AT+COPS=3,2;+COPS?") == 10.0
    assert TimeoutTable().timeout_for("AT+CMEE=1;+COPS=0") == 125.0
    assert TimeoutTable().timeout_for("ATE0V1") == 10.0


def test_a_line_that_does_not_parse_gets_the_default():
    assert TimeoutTable().timeout_for('AT+CGDCONT=1,"IP') == DEFAULT_TIMEOUT_S


def test_overrides_replace_builtins_and_add_rules():
    table = TimeoutTable({"+COPS=?": 600, "+CSQ": 1, "AT+QIACT": 60})
    assert table.timeout_for("AT+COPS=?") == 600.0
    assert table.timeout_for("AT+COPS=0") == 120.0
    assert table.timeout_for("AT+CSQ") == 1.0
    assert table.timeout_for("AT+QIACT=1") == 60.0
    assert [r.pattern for r in table.rules].count("+COPS=?") == 1


def test_the_most_specific_rule_wins():
    table = TimeoutTable({"+CGDCONT": 2, "+CGDCONT=": 3, "+CGDCONT=1": 4, "+CGDCONT=1,IP": 6, "+CGDCONT?": 7})
    assert table.timeout_for('AT+CGDCONT=1,"IP","apn"') == 6.0  # two leading arguments
    assert table.timeout_for('AT+CGDCONT=1,"IPV6"') == 4.0  # first argument
    assert table.timeout_for("AT+CGDCONT=2") == 3.0  # any set form
    assert table.timeout_for("AT+CGDCONT?") == 7.0  # read form
    assert table.timeout_for("AT+CGDCONT=?") == 2.0  # name only


def test_with_overrides_keeps_the_default_and_earlier_overrides():
    table = TimeoutTable({"+CSQ": 1}, default_s=2.0).with_overrides({"+CESQ": 3})
    assert (table.timeout_for("AT+CSQ"), table.timeout_for("AT+CESQ"), table.timeout_for("AT+CGMI")) == (1.0, 3.0, 2.0)


def test_every_builtin_rule_names_its_source():
    assert all(rule.source for rule in BUILTIN_RULES)


@pytest.mark.parametrize("pattern", ["", "COPS=?", "+", "AT", "+CO PS"])
def test_a_malformed_pattern_is_rejected_with_its_text(pattern):
    with pytest.raises(ValueError, match="bad timeout pattern"):
        TimeoutTable({pattern: 5})


@pytest.mark.parametrize("timeout_s", [0, -1])
def test_timeouts_must_be_positive(timeout_s):
    with pytest.raises(ValueError, match="must be positive"):
        TimeoutRule("+CSQ", timeout_s)
    with pytest.raises(ValueError, match="must be positive"):
        TimeoutTable(default_s=timeout_s)
