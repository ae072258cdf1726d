"""Running an AT test plan (:mod:`cellfleet.modem.plan`) through a
:class:`~cellfleet.modem.driver.ModemDriver`: one :class:`StepResult` per step, a
:class:`PlanReport`, and JUnit XML for lab CI (one ``testsuite``, one ``testcase`` per step),
written atomically.
"""

from __future__ import annotations

import datetime
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cellfleet.modem.driver import AT_SYNC_TRIES, AT_SYNC_TRY_TIMEOUT_S, ModemDriver
from cellfleet.modem.errors import (
    AtError,
    AtTimeout,
    CmeException,
    CmsException,
    CommandFailed,
)
from cellfleet.modem.plan import DEFAULT_URC_TIMEOUT_S, Plan, Step, UrcWait
from cellfleet.modem.responses import classify_final
from cellfleet.scenarios.base import show_value


@dataclass
class StepResult:
    """The outcome of one step: ``index`` is 1-based (0 for the plan's initial sync)."""

    index: int
    label: str
    status: Literal["passed", "failed", "skipped"]
    message: str = ""
    transcript: list[str] = field(default_factory=list)
    """``> AT+CGMI``, ``< Quectel``, ``< OK``, ``< URC +CEREG: 1``, ``! timeout …``."""
    duration_s: float = 0.0

    def line(self) -> str:
        """``PASS 1 AT+CGMI``, ``FAIL 2 AT+CIMI: expected CME 10, got OK``, ``SKIP 3 …``."""
        tag = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[self.status]
        return f"{tag} {self.index} {self.label}" + (f": {self.message}" if self.message else "")


@dataclass
class PlanReport:
    """All step results of one run."""

    plan_name: str
    results: list[StepResult]
    started: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))

    @property
    def passed(self) -> bool:
        """True when no step failed."""
        return not any(r.status == "failed" for r in self.results)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def text_lines(self) -> list[str]:
        """One :meth:`StepResult.line` per step and a summary line."""
        lines = [result.line() for result in self.results]
        total = len(self.results)
        lines.append(
            f"{self.plan_name}: {total} step{'' if total == 1 else 's'}, {self.count('passed')} passed, "
            f"{self.count('failed')} failed, {self.count('skipped')} skipped"
        )
        return lines


def run_plan(
    plan: Plan,
    driver: ModemDriver,
    *,
    on_result: Callable[[StepResult], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    sync_tries: int = AT_SYNC_TRIES,
    sync_try_timeout_s: float = AT_SYNC_TRY_TIMEOUT_S,
) -> PlanReport:
    """Run ``plan`` through ``driver`` (after :meth:`ModemDriver.sync` when ``plan.sync``; the
    plan's ``timeouts`` are added to the driver's table); ``on_result`` sees each result as soon
    as its step ends."""
    if plan.timeouts:
        driver.timeouts = driver.timeouts.with_overrides(plan.timeouts)
    report = PlanReport(plan.name, [])

    def record(result: StepResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    stop_reason = ""
    if plan.sync:
        started = time.monotonic()
        try:
            driver.sync(tries=sync_tries, try_timeout_s=sync_try_timeout_s)
        except AtError as exc:
            record(StepResult(0, "sync", "failed", f"modem did not sync: {exc}", [], time.monotonic() - started))
            stop_reason = "the modem did not sync"
    cursor = [driver.urc_mark()]
    for index, step in enumerate(plan.steps, start=1):
        if stop_reason:
            record(StepResult(index, step.label, "skipped", stop_reason))
            continue
        result = _run_step(index, step, driver, cursor, sleep)
        record(result)
        if result.status == "failed" and not step.continue_on_fail:
            stop_reason = f"step {index} failed"
    return report


def _run_step(index: int, step: Step, driver: ModemDriver, cursor: list[int], sleep: Callable[[float], None]) -> StepResult:
    started = time.monotonic()
    transcript: list[str] = []
    message = ""
    for repetition in range(1, step.repeat + 1):
        if step.send is not None:
            message = _run_send(step, driver, transcript)
        elif step.wait_urc is not None:
            message = _run_wait(step.wait_urc, step.timeout_s or DEFAULT_URC_TIMEOUT_S, driver, cursor, transcript)
        else:
            sleep(step.sleep_s or 0.0)
        if message:
            if step.repeat > 1:
                message = f"repetition {repetition} of {step.repeat}: {message}"
            break
    status: Literal["passed", "failed"] = "failed" if message else "passed"
    return StepResult(index, step.label, status, message, transcript, time.monotonic() - started)


def _run_send(step: Step, driver: ModemDriver, transcript: list[str]) -> str:
    """Run one ``send``; the failure message, or ``""`` when the step's checks pass."""
    assert step.send is not None
    transcript.append(f"> {step.send}")
    observed: tuple[str, int | None] | None = None
    try:
        if step.payload is not None:
            transcript.append(f"> (payload) {step.payload}")
            response = driver.command_with_prompt(step.send, step.payload.encode("utf-8"), timeout_s=step.timeout_s)
        else:
            response = driver.command(step.send, timeout_s=step.timeout_s)
    except (CmeException, CmsException) as exc:
        transcript.append(f"< {exc.final}")
        observed = ("CME" if isinstance(exc, CmeException) else "CMS", exc.code)
    except CommandFailed as exc:
        transcript.append(f"< {exc.final}")
        observed = (exc.final.strip().upper(), None)
    except AtTimeout as exc:
        transcript.append(f"! {exc}")
        return f"no final result within {exc.timeout_s:g} s"
    except AtError as exc:
        transcript.append(f"! {exc}")
        return str(exc)
    else:
        transcript.extend(f"< {line}" for line in response.lines)
        transcript.append(f"< {response.final}")
    expected = step.expected_error
    if expected is not None:
        if observed is None:
            return f"expected {expected}, got {response.final}"
        if not expected.matches(*observed):
            return f"expected {expected}, got {transcript[-1][2:]}"
        return ""
    if observed is not None:
        return f"got {transcript[-1][2:]}"
    if step.expect is not None:
        # A final result code as the last expected line is compared with the final too.
        ends_with_final = bool(step.expect) and classify_final(step.expect[-1], numeric=False) is not None
        got = [*response.lines, response.final] if ends_with_final else response.lines
        if got != step.expect:
            return f"expected lines {show_value(step.expect, 200)}, got {show_value(got, 200)}"
    text = "\n".join(response.lines)
    for pattern in step.match or []:
        if re.search(pattern, text, re.MULTILINE) is None:
            return f"no line matches /{pattern}/ in {show_value(response.lines, 200)}"
    return ""


def _run_wait(wait: UrcWait, timeout_s: float, driver: ModemDriver, cursor: list[int], transcript: list[str]) -> str:
    what = wait.prefix if wait.prefix is not None else f"/{wait.regex}/"
    try:
        record = driver.wait_urc_record(wait.prefix or "", timeout_s, pattern=wait.regex, after=cursor[0])
    except AtTimeout:
        transcript.append(f"! no URC {what} within {timeout_s:g} s")
        return f"no URC {what} within {timeout_s:g} s"
    except AtError as exc:
        transcript.append(f"! {exc}")
        return str(exc)
    cursor[0] = record.seq
    transcript.append(f"< URC {record.text}")
    return ""


# ------------------------------------------------------------------------------ JUnit XML


def junit_xml(report: PlanReport, *, suite_name: str | None = None) -> ET.ElementTree:
    """The report as JUnit XML: one ``testsuite``, one ``testcase`` per step (``failure`` /
    ``skipped`` children, the transcript in ``system-out``)."""
    name = suite_name or report.plan_name
    total_s = sum(r.duration_s for r in report.results)
    counts = {
        "tests": str(len(report.results)),
        "failures": str(report.count("failed")),
        "errors": "0",
        "skipped": str(report.count("skipped")),
        "time": f"{total_s:.3f}",
    }
    suites = ET.Element("testsuites", {"name": name, **counts})
    suite = ET.SubElement(
        suites, "testsuite", {"name": name, **counts, "timestamp": report.started.strftime("%Y-%m-%dT%H:%M:%S")}
    )
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": name, "name": f"step {result.index}: {result.label}", "time": f"{result.duration_s:.3f}"},
        )
        if result.status == "failed":
            failure = ET.SubElement(case, "failure", {"message": result.message, "type": "StepFailed"})
            failure.text = "\n".join(result.transcript)
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", {"message": result.message})
        if result.transcript:
            ET.SubElement(case, "system-out").text = "\n".join(result.transcript)
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    return tree


def write_junit(report: PlanReport, path: str | os.PathLike[str], *, suite_name: str | None = None) -> None:
    """Write :func:`junit_xml` atomically: a temporary file in the same directory, then
    ``os.replace`` (a CI job never reads a half-written file). The file gets the mode a plain
    ``open`` would give it (``0o666`` less the umask): ``mkstemp`` makes it ``0o600``, which a CI
    collector running as another user could not read."""
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as out:
            junit_xml(report, suite_name=suite_name).write(out, encoding="utf-8", xml_declaration=True)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
