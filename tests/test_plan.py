"""AT test plans: validation messages with file/line/key path, running against the virtual modem,
the text report and the JUnit XML."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_driver_support import driven, served

from cellfleet.modem.plan import ExpectedError, PlanError, load_plan, parse_plan
from cellfleet.modem.plan_runner import (
    PlanReport,
    StepResult,
    junit_xml,
    run_plan,
    write_junit,
)

# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  - send: AT\n    expekt: [OK]\n", "p.yaml:3: steps[0]: unknown key 'expekt' (did you mean 'expect'?)"),
        ("nmae: x\nsteps:\n  - send: AT\n", "p.yaml:1: unknown key 'nmae' (did you mean 'name'?)"),
        (
            "steps:\n  - wait_urc: {prefx: b}\n",
            "p.yaml:2: steps[0].wait_urc: unknown key 'prefx' (did you mean 'prefix'?)",
        ),
        (
            "steps:\n  - send: AT\n    sleep_s: 1\n",
            "p.yaml:2: steps[0]: a step does exactly one of send, wait_urc, sleep_s; got send, sleep_s",
        ),
        (
            "steps:\n  - name: x\n",
            "p.yaml:2: steps[0]: a step does exactly one of send, wait_urc, sleep_s; got none",
        ),
        (
            "steps:\n  - send: AT\n    expect_error: CME banana\n",
            "p.yaml:3: steps[0].expect_error: unknown CME error 'banana' (give a code or a CmeError name)",
        ),
        (
            "steps:\n  - send: AT\n    expect_error: FOO\n",
            (
                "p.yaml:3: steps[0].expect_error: must be 'CME <code or name>', 'CMS <code>', 'CME', 'CMS' or "
                "one of ERROR, NO CARRIER, BUSY, NO ANSWER, NO DIALTONE, SEND FAIL, got 'FOO'"
            ),
        ),
        (
            "steps:\n  - send: AT\n    expect: [x]\n    expect_error: CME 10\n",
            "p.yaml:3: steps[0].expect: not allowed with expect_error (an error has no lines to check)",
        ),
        (
            "steps:\n  - send: AT\n    match: ['(']\n",
            (
                "p.yaml:3: steps[0].match[0]: not a valid regex (missing ), unterminated subpattern at "
                "position 0), got '('"
            ),
        ),
        (
            "steps:\n  - wait_urc: {regex: 'a', prefix: b}\n",
            "p.yaml:2: steps[0].wait_urc: give exactly one of prefix or regex",
        ),
        (
            "steps:\n  - sleep_s: 1\n    payload: x\n",
            "p.yaml:3: steps[0].payload: only allowed with send (this step does sleep_s)",
        ),
        ("steps:\n  - send: AT\n    repeat: 0\n", "p.yaml:3: steps[0].repeat: must be at least 1, got 0"),
        ("steps:\n  - send: AT\n    timeout_s: -1\n", "p.yaml:3: steps[0].timeout_s: must be greater than 0, got -1"),
        (
            "steps:\n  - send: AT+CGSN\n    expect: [866425030000000]\n",
            "p.yaml:3: steps[0].expect[0]: must be a string, got 866425030000000",
        ),
        ("", "p.yaml: the file is empty; expected a mapping with steps"),
        ("- a\n", "p.yaml:1: the top level must be a mapping with steps, got a list"),
        ("name: x\n", "p.yaml:1: steps: required key missing"),
        ("steps: []\n", "p.yaml:1: steps: must list at least 1 entry, got an empty list"),
        (
            "timeouts: {'COPS': 5}\nsteps:\n  - send: AT\n",
            (
                "p.yaml:1: timeouts.COPS: bad timeout pattern 'COPS': expected a command such as '+COPS=?', "
                "'+COPS=0', '+COPS=', '+COPS?' or '+COPS'"
            ),
        ),
        ("steps:\n  - send: AT\n    send: AT\n", "p.yaml:3: steps[0].send: duplicate key 'send' (first at line 2)"),
        ("steps:\n  - send: ''\n", "p.yaml:2: steps[0].send: must not be empty, got ''"),
    ],
)
def test_plan_problems_read_like_compiler_messages(text, message):
    with pytest.raises(PlanError) as error:
        parse_plan(text, "p.yaml")
    assert [str(issue) for issue in error.value.issues] == [message]


def test_every_problem_of_a_file_is_reported():
    text = "steps:\n  - send: AT\n    repeat: 0\n  - sleep_s: -1\n"
    with pytest.raises(PlanError) as error:
        parse_plan(text, "p.yaml")
    assert [str(issue) for issue in error.value.issues] == [
        "p.yaml:3: steps[0].repeat: must be at least 1, got 0",
        "p.yaml:4: steps[1].sleep_s: must not be negative, got -1",
    ]


def test_load_plan_names_a_missing_file(tmp_path):
    with pytest.raises(PlanError) as error:
        load_plan(tmp_path / "nope.yaml")
    assert str(error.value) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_shorthands_and_defaults():
    plan = parse_plan("steps:\n  - send: AT+CGMI\n    expect: Quectel\n    match: 'Q.*'\n  - wait_urc: '+CEREG'\n")
    assert (plan.name, plan.sync, plan.timeouts) == ("AT plan", True, {})
    assert (plan.steps[0].expect, plan.steps[0].match) == (["Quectel"], ["Q.*"])
    assert (plan.steps[1].wait_urc.prefix, plan.steps[1].wait_urc.regex) == ("+CEREG", None)
    assert [step.label for step in plan.steps] == ["AT+CGMI", "wait_urc +CEREG"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CME 10", ExpectedError("CME", 10)),
        ("+CME ERROR: 10", ExpectedError("CME", 10)),
        ("cme error 16", ExpectedError("CME", 16)),
        ("CME SIM_NOT_INSERTED", ExpectedError("CME", 10)),
        ("CME sim_busy", ExpectedError("CME", 14)),
        ("CMS 321", ExpectedError("CMS", 321)),
        ("CME", ExpectedError("CME")),
        ("error", ExpectedError("ERROR")),
        ("NO  CARRIER", ExpectedError("NO CARRIER")),
    ],
)
def test_expected_error_spellings(text, expected):
    assert ExpectedError.parse(text) == expected


def test_expected_error_matching():
    assert ExpectedError("CME").matches("CME", 10)
    assert ExpectedError("CME", 10).matches("CME", 10)
    assert not ExpectedError("CME", 10).matches("CME", 11)
    assert not ExpectedError("CME", 10).matches("CMS", 10)
    assert str(ExpectedError("CMS", 321)) == "CMS 321"


# ----------------------------------------------------------------------------- running

PASSING_PLAN = """\
name: generic smoke
timeouts: {"+COPS=?": 400}
steps:
  - send: AT+CGMI
    expect: [Cellfleet]
  - send: AT+CGMM
    expect: [Generic-27007, OK]
  - send: AT+CGSN
    match: '^\\d{15}$'
  - send: AT+CMGR=999
    expect_error: CMS 321
  - send: AT+CEREG=1
  - send: AT+CFUN=4
  - wait_urc: "+CEREG: 0"
  - send: AT+CFUN=1
  - wait_urc: {regex: '^\\+CEREG: [15]$'}
    timeout_s: 10
  - sleep_s: 0
  - send: AT+CMGF=1
  - send: AT+CMGS="+15551234567"
    payload: hello
    match: '^\\+CMGS: \\d+$'
  - send: AT+CSQ
    expect: ["+CSQ: 20,99"]
    repeat: 3
"""


def test_a_passing_plan(tmp_path):
    plan = parse_plan(PASSING_PLAN, "smoke.yaml")
    seen: list[StepResult] = []
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        report = run_plan(plan, driver, on_result=seen.append)
        assert driver.timeouts.timeout_for("AT+COPS=?") == 400.0
    assert report.passed
    assert [(r.index, r.status, r.message) for r in report.results] == [(i, "passed", "") for i in range(1, 14)]
    assert seen == report.results
    by_index = {r.index: r for r in report.results}
    assert by_index[1].transcript == ["> AT+CGMI", "< Cellfleet", "< OK"]
    assert by_index[4].transcript == ["> AT+CMGR=999", "< +CMS ERROR: 321"]
    assert by_index[7].transcript == ["< URC +CEREG: 0"]
    assert by_index[12].transcript == ['> AT+CMGS="+15551234567"', "> (payload) hello", "< +CMGS: 0", "< OK"]
    assert by_index[13].transcript == ["> AT+CSQ", "< +CSQ: 20,99", "< OK"] * 3
    assert report.text_lines()[-1] == "generic smoke: 13 steps, 13 passed, 0 failed, 0 skipped"


FAILING_PLAN = """\
name: failing
steps:
  - send: AT+CGMI
    expect: [Quectel]
    continue_on_fail: true
  - send: AT+CIMI
    expect_error: CME 10
    continue_on_fail: true
  - send: AT+NOSUCH
    match: x
    continue_on_fail: true
  - send: AT+CGMM
    match: '^BG'
  - send: AT
  - wait_urc: "+CEREG"
"""


def test_a_failing_plan_stops_unless_continue_on_fail(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        report = run_plan(parse_plan(FAILING_PLAN), driver)
    assert not report.passed
    assert report.text_lines() == [
        "FAIL 1 AT+CGMI: expected lines ['Quectel'], got ['Cellfleet']",
        "FAIL 2 AT+CIMI: expected CME 10, got OK",
        "FAIL 3 AT+NOSUCH: got ERROR",
        "FAIL 4 AT+CGMM: no line matches /^BG/ in ['Generic-27007']",
        "SKIP 5 AT: step 4 failed",
        "SKIP 6 wait_urc +CEREG: step 4 failed",
        "failing: 6 steps, 0 passed, 4 failed, 2 skipped",
    ]


def test_timeouts_and_missing_urcs_fail_their_step(tmp_path):
    plan = parse_plan(
        "steps:\n"
        "  - wait_urc: '+NOSUCH'\n    timeout_s: 0.2\n    continue_on_fail: true\n"
        "  - send: AT+CGMI\n    repeat: 2\n"
    )
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        server.mute(0, True)
        driver.timeouts = driver.timeouts.with_overrides({"+CGMI": 0.2})
        report = run_plan(plan.model_copy(update={"sync": False}), driver)
    assert [(r.status, r.message) for r in report.results] == [
        ("failed", "no URC +NOSUCH within 0.2 s"),
        ("failed", "repetition 1 of 2: no final result within 0.2 s"),
    ]


def test_a_modem_that_does_not_sync_fails_the_sync_and_skips_every_step(tmp_path):
    plan = parse_plan("steps:\n  - send: AT+CGMI\n")
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        server.mute(0, True)
        report = run_plan(plan, driver, sync_tries=2, sync_try_timeout_s=0.1)
    assert [(r.index, r.label, r.status) for r in report.results] == [(0, "sync", "failed"), (1, "AT+CGMI", "skipped")]
    assert report.results[0].message == "modem did not sync: ATQ0: no final result within 0.1 s"  # the Q0 probe (B5)


# ----------------------------------------------------------------------------- JUnit XML


def sample_report() -> PlanReport:
    return PlanReport(
        "lab <plan>",
        [
            StepResult(1, "AT+CGMI", "passed", "", ["> AT+CGMI", "< Quectel", "< OK"], 0.0125),
            StepResult(2, "AT+CIMI", "failed", "expected CME 10, got OK", ["> AT+CIMI", "< OK"], 0.5),
            StepResult(3, "sleep 1 s", "skipped", "step 2 failed"),
        ],
    )


def test_junit_xml_has_one_testcase_per_step():
    root = junit_xml(sample_report()).getroot()
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("name", "tests", "failures", "errors", "skipped", "time")} == {
        "name": "lab <plan>", "tests": "3", "failures": "1", "errors": "0", "skipped": "1", "time": "0.512",
    }  # fmt: skip
    (suite,) = list(root)
    assert (suite.tag, suite.get("name"), suite.get("tests"), suite.get("failures")) == ("testsuite", "lab <plan>", "3", "1")
    cases = list(suite)
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("lab <plan>", "step 1: AT+CGMI", "0.013"),
        ("lab <plan>", "step 2: AT+CIMI", "0.500"),
        ("lab <plan>", "step 3: sleep 1 s", "0.000"),
    ]
    assert [child.tag for child in cases[0]] == ["system-out"]
    assert cases[0].find("system-out").text == "> AT+CGMI\n< Quectel\n< OK"
    failure = cases[1].find("failure")
    assert (failure.get("message"), failure.text) == ("expected CME 10, got OK", "> AT+CIMI\n< OK")
    assert cases[2].find("skipped").get("message") == "step 2 failed"


def test_write_junit_replaces_the_file_atomically(tmp_path):
    target = tmp_path / "junit.xml"
    target.write_text("old")
    write_junit(sample_report(), target)
    assert os.listdir(tmp_path) == ["junit.xml"]  # no temporary file left behind
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>")
    assert ET.fromstring(text.encode()).get("tests") == "3"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_junit_gives_the_file_the_mode_open_would(tmp_path, umask, mode):
    # mkstemp makes 0600 files and os.replace keeps the mode: a CI collector running as another
    # user could not read the report. It gets 0666 less the umask, as open() would give it.
    old = os.umask(umask)
    try:
        write_junit(sample_report(), tmp_path / "junit.xml")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "junit.xml").stat().st_mode) == mode


def test_the_summary_line_counts_one_step_in_the_singular():
    report = PlanReport("one", [StepResult(1, "AT", "passed")])
    assert report.text_lines() == ["PASS 1 AT", "one: 1 step, 1 passed, 0 failed, 0 skipped"]


def test_the_readme_plan_passes_against_a_virtual_modem(tmp_path):
    """The AT test plan shown in README.md runs as printed: every step passes (with the
    default latency of +CFUN, so the registration URC comes after a simulated wait)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("```yaml\nname: smoke test\n") + len("```yaml\n")
    plan = parse_plan(readme[start : readme.index("```", start)], "README.md")
    with served(tmp_path, latency_scale=1.0) as server, driven(server, tmp_path) as driver:
        report = run_plan(plan, driver)
    assert [(r.index, r.status) for r in report.results] == [(i, "passed") for i in range(1, 8)]
