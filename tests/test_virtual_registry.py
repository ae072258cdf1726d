"""The handler registry as another module (the sockets) uses it: a vendor command with a counted
binary payload after an ``@`` prompt, a scheduled URC, its own latency, a custom final result
code and state kept in ``state.extensions``."""

from __future__ import annotations

import dataclasses

from golden.transcript import Session

from cellfleet.modem.cmd_registry import (
    CommandContext,
    PromptRequest,
    Reply,
    cme,
    ok,
    register,
)
from cellfleet.modem.profiles import get_profile

OK = b"\r\nOK\r\n"


def _on_payload(ctx: CommandContext, data: bytes) -> Reply:
    sent = ctx.state.extensions.setdefault("xtest", [])
    sent.append(data)
    ctx.schedule(ctx.now_s + 1.0, lambda at_s: [f"+UXTEST: {len(data)},{at_s:g}"])
    return Reply(lines=(f"+XTEST: {len(data)}", data), final="SEND OK", latency_s=0.5)


@register("+XTEST", "set")
def xtest_set(ctx: CommandContext) -> Reply:
    count = ctx.int_arg(0, allowed=range(1, 100))
    if count is None:
        return cme(50)
    return Reply(prompt=PromptRequest(_on_payload, char="@", count=count))


@register("+XTEST", "read")
def xtest_read(ctx: CommandContext) -> Reply:
    return ok(f"+XTEST: {len(ctx.state.extensions.get('xtest', []))}")


PROFILE = dataclasses.replace(get_profile("generic"), vendor_commands=frozenset({"+XTEST"}))


def test_counted_payload_scheduled_urc_latency_and_custom_final() -> None:
    s = Session(PROFILE)
    s.quiet()
    assert s.at("AT+XTEST=4") == b"\r\n@"
    # exactly 4 raw bytes, CR and Ctrl-Z included
    assert s.send(b"a\r\x1a\x00") == b""
    assert s.wait(0.5) == b"\r\n+XTEST: 4\r\na\r\x1a\x00\r\n\r\nSEND OK\r\n"
    assert s.at("AT+XTEST?") == b"\r\n+XTEST: 1\r\n" + OK
    assert s.modem.next_due_s() == 1.0
    assert s.wait(1.0) == b"\r\n+UXTEST: 4,1\r\n"


def test_a_command_not_in_the_profile_is_unknown() -> None:
    s = Session("generic")
    s.quiet()
    assert s.at("AT+XTEST?") == b"\r\nERROR\r\n"
    assert b"+XTEST" in Session(PROFILE).at("AT+CLAC")


def test_extension_state_is_volatile() -> None:
    s = Session(PROFILE)
    s.quiet()
    s.at("AT+XTEST=1")
    s.send("x")
    s.wait(0.5)
    s.modem.power_on(2.0)
    s.modem.take_output()
    assert s.at("AT+XTEST?", 2.0) == b"AT+XTEST?\r\r\n+XTEST: 0\r\n" + OK
