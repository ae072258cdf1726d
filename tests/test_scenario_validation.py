"""Scenario files: every validation error path, with exact messages and line numbers;
overrides; YAML round trip.

Most cases edit single lines of :data:`VALID` (line numbers in its comments) and compare the
complete list of reported issues, ``FILE:LINE: PATH: MESSAGE``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.scenarios import loader, profiles
from cellfleet.scenarios.loader import (
    ScenarioError,
    ScenarioIssue,
    apply_overrides,
    builtin_names,
    builtin_summary,
    builtin_text,
    load_scenario,
    parse_scenario,
    rescale_counts,
    scenario_to_yaml,
)
from cellfleet.scenarios.schema import Scenario

VALID = """\
name: t                                                # 1
start_date: 2024-01-01                                 # 2
duration_days: 30                                      # 3
seed: 1                                                # 4
rate_plans:                                            # 5
  - name: plan_a                                       # 6
  - name: plan_b                                       # 7
traffic_profiles:                                      # 8
  - name: meter                                        # 9
    sessions_per_day: 4                                # 10
    session_bytes: {distribution: fixed, bytes: 100}   # 11
fleet:                                                 # 12
  - name: g1                                           # 13
    count: 3                                           # 14
    rate_plan: plan_a                                  # 15
    traffic: meter                                     # 16
  - name: g2                                           # 17
    count: 1                                           # 18
    rate_plan: plan_b                                  # 19
    traffic: none                                      # 20
actions:                                               # 21
  - at_day: 5                                          # 22
    action: activate                                   # 23
    select: {group: g1}                                # 24
"""


def edit(changes: dict[int, str], text: str = VALID) -> str:
    """``text`` with the given 1-based lines replaced (a replacement may hold several lines)."""
    lines = text.splitlines()
    for number, new in changes.items():
        lines[number - 1] = new
    return "\n".join(lines) + "\n"


def issues_of(tmp_path: Path, text: str, name: str = "s.yaml") -> list[str]:
    """Load ``text`` from a file and return the reported issues (file named as ``name``)."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / name)
    prefix = str(tmp_path) + "/"
    return [str(issue).removeprefix(prefix) for issue in info.value.issues]


@pytest.fixture
def valid(tmp_path: Path) -> Scenario:
    path = tmp_path / "valid.yaml"
    path.write_text(VALID, encoding="utf-8")
    return load_scenario(path)


# ---------------------------------------------------------------------------------------------
# The valid scenario and the issue format


def test_valid_scenario_loads(valid: Scenario) -> None:
    assert valid.name == "t"
    assert valid.start_date == datetime.date(2024, 1, 1)
    assert valid.total_devices == 4
    assert [g.count for g in valid.fleet] == [3, 1]
    assert valid.fleet[0].traffic_by_state() == {
        "provisioned": "meter",
        "active_billed": "meter",
        "suspended": "meter",
    }
    assert valid.actions[0].select.group_names() == ["g1"]
    assert valid.rate_plan("plan_b").fees.currency == "USD"
    assert valid.traffic_profile("none") is None


def test_load_by_str_path(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    assert load_scenario(str(tmp_path / "a.yaml")).seed == 1


def test_issue_and_error_format() -> None:
    one = ScenarioIssue("my.yaml", 14, "fleet[2].count", "must be a positive integer, got -5")
    two = ScenarioIssue("my.yaml", None, "", "the file is empty")
    assert str(one) == "my.yaml:14: fleet[2].count: must be a positive integer, got -5"
    assert str(two) == "my.yaml: the file is empty"
    error = ScenarioError([one, two])
    assert error.issues == [one, two]
    assert str(error) == f"{one}\n{two}"


def test_every_issue_is_reported_in_line_order(tmp_path: Path) -> None:
    text = edit({4: "seed: -1", 14: "    count: 0", 23: "    action: explode"})
    assert issues_of(tmp_path, text) == [
        "s.yaml:4: seed: must be a non-negative integer, got -1",
        "s.yaml:14: fleet[0].count: must be a positive integer, got 0",
        "s.yaml:23: actions[0].action: must be one of provision, reprovision, activate, "
        "suspend, unsuspend, cancel, set_traffic, send_once, move, block_network, unblock_network, power_off, power_on, got 'explode'",
    ]


# ---------------------------------------------------------------------------------------------
# Field errors, each at its line

FIELD_CASES = [
    pytest.param(
        {14: "    count: -5"},
        ["s.yaml:14: fleet[0].count: must be a positive integer, got -5"],
        id="negative-count",
    ),
    pytest.param(
        {14: "    cout: 3"},
        [
            "s.yaml:13: fleet[0].count: required key missing",
            "s.yaml:14: fleet[0]: unknown key 'cout' (did you mean 'count'?)",
        ],
        id="unknown-key-did-you-mean",
    ),
    pytest.param(
        {4: "seeed: 1"},
        [
            "s.yaml:1: seed: required key missing",
            "s.yaml:4: unknown key 'seeed' (did you mean 'seed'?)",
        ],
        id="unknown-top-level-key",
    ),
    pytest.param(
        {20: "    traffic: none\n    colour: red"},
        [
            "s.yaml:21: fleet[1]: unknown key 'colour' (allowed: name, count, rate_plan, "
            "account, report_group, initial_state, traffic, network)",
        ],
        id="unknown-key-no-near-name",
    ),
    pytest.param(
        {24: "    select: {group: g1, fraktion: 0.5}"},
        ["s.yaml:24: actions[0].select: unknown key 'fraktion' (did you mean 'fraction'?)"],
        id="unknown-key-nested-flow",
    ),
    pytest.param(
        {14: "    count: abc"},
        ["s.yaml:14: fleet[0].count: must be an integer, got 'abc'"],
        id="int-from-string",
    ),
    pytest.param(
        {14: "    count: 2.5"},
        ["s.yaml:14: fleet[0].count: must be an integer, got 2.5"],
        id="int-from-float",
    ),
    pytest.param(
        {14: "    count: '3'"},
        ["s.yaml:14: fleet[0].count: must be an integer, got '3'"],
        id="int-from-quoted-number",
    ),
    pytest.param(
        {14: "    count: true"},
        ["s.yaml:14: fleet[0].count: must be an integer, got true"],
        id="int-from-bool",
    ),
    pytest.param(
        {10: "    sessions_per_day: many"},
        ["s.yaml:10: traffic_profiles[0].sessions_per_day: must be a number, got 'many'"],
        id="float-from-string",
    ),
    pytest.param(
        {10: "    sessions_per_day: .inf"},
        ["s.yaml:10: traffic_profiles[0].sessions_per_day: must be a finite number, got inf"],
        id="float-infinite",
    ),
    pytest.param(
        {10: "    sessions_per_day: -2"},
        ["s.yaml:10: traffic_profiles[0].sessions_per_day: must not be negative, got -2"],
        id="float-negative",
    ),
    pytest.param(
        {1: "name: 123"},
        ["s.yaml:1: name: must be a string, got 123"],
        id="string-from-int",
    ),
    pytest.param(
        {6: "  - name: plan a"},
        [
            "s.yaml:6: rate_plans[0].name: must contain only letters, digits, '_', '.' and '-', "
            "got 'plan a'"
        ],
        id="name-pattern",
    ),
    pytest.param(
        {2: "start_date: soon"},
        ["s.yaml:2: start_date: must be a date (YYYY-MM-DD), got 'soon'"],
        id="date-from-word",
    ),
    pytest.param(
        {2: "start_date: '2024-13-01'"},
        ["s.yaml:2: start_date: must be a date (YYYY-MM-DD), got '2024-13-01'"],
        id="date-quoted-invalid",
    ),
    pytest.param(
        {2: "start_date: 2024-13-01"},
        ["s.yaml:2: start_date: invalid timestamp '2024-13-01': month must be in 1..12"],
        id="date-yaml-invalid",
    ),
    pytest.param(
        {5: "rate_plans: plan_a", 6: "", 7: ""},
        ["s.yaml:5: rate_plans: must be a list, got 'plan_a'"],
        id="list-from-string",
    ),
    pytest.param(
        {5: "rate_plans: []", 6: "", 7: ""},
        ["s.yaml:5: rate_plans: must list at least 1 entry, got an empty list"],
        id="empty-list",
    ),
    pytest.param(
        {24: "    select: g1"},
        ["s.yaml:24: actions[0].select: must be a mapping, got 'g1'"],
        id="mapping-from-string",
    ),
    pytest.param(
        {7: "  - plan_b"},
        ["s.yaml:7: rate_plans[1]: must be a mapping, got 'plan_b'"],
        id="list-item-not-mapping",
    ),
    pytest.param(
        {24: "    select: {group: 5}"},
        [
            "s.yaml:24: actions[0].select.group: must be a group name or a list of group names, "
            "got 5"
        ],
        id="group-wrong-type",
    ),
    pytest.param(
        {24: "    select: {group: []}"},
        [
            "s.yaml:24: actions[0].select.group: must list at least one group name, "
            "got an empty list"
        ],
        id="group-empty-list",
    ),
    pytest.param(
        {16: "    traffic: 5"},
        [
            "s.yaml:16: fleet[0].traffic: must be a profile name or a mapping from state to "
            "profile name, got 5"
        ],
        id="traffic-wrong-type",
    ),
    pytest.param(
        {16: "    traffic: {}"},
        [
            "s.yaml:16: fleet[0].traffic: must map at least one state to a profile name "
            "(use 'none' for no traffic)"
        ],
        id="traffic-empty-mapping",
    ),
    pytest.param(
        {16: "    traffic: {provisioned: 7}"},
        ["s.yaml:16: fleet[0].traffic.provisioned: must be a profile name, got 7"],
        id="traffic-mapping-bad-value",
    ),
    pytest.param(
        {4: ""},
        ["s.yaml:1: seed: required key missing"],
        id="missing-top-level",
    ),
    pytest.param(
        {15: ""},
        ["s.yaml:13: fleet[0].rate_plan: required key missing"],
        id="missing-in-list-item",
    ),
    pytest.param(
        {11: "    session_bytes: {bytes: 100}"},
        ["s.yaml:11: traffic_profiles[0].session_bytes.distribution: required key missing"],
        id="missing-in-flow-mapping",
    ),
    pytest.param(
        {18: "    count: 1\n    initial_state: dormant"},
        [
            "s.yaml:19: fleet[1].initial_state: must be one of initial, provisioned, "
            "active_billed, suspended, cancelled, got 'dormant'"
        ],
        id="bad-state",
    ),
    pytest.param(
        {10: "    sessions_per_day: 4\n    schedule: weekly"},
        [
            "s.yaml:11: traffic_profiles[0].schedule: must be one of poisson, periodic, diurnal, "
            "got 'weekly'"
        ],
        id="bad-schedule",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: normal, bytes: 100}"},
        [
            "s.yaml:11: traffic_profiles[0].session_bytes.distribution: must be one of fixed, "
            "uniform, empirical, got 'normal'"
        ],
        id="bad-distribution",
    ),
    pytest.param(
        {24: "    select: {group: g1, fraction: 0.5, count: 2}"},
        [
            "s.yaml:24: actions[0].select.count: cannot be combined with fraction; give one of "
            "them (fraction: 0.5, count: 2)"
        ],
        id="fraction-and-count",
    ),
    pytest.param(
        {24: "    select: {group: g1, fraction: 0}"},
        ["s.yaml:24: actions[0].select.fraction: must be greater than 0, got 0"],
        id="fraction-zero",
    ),
    pytest.param(
        {24: "    select: {group: g1, fraction: 1.5}"},
        ["s.yaml:24: actions[0].select.fraction: must be at most 1, got 1.5"],
        id="fraction-above-one",
    ),
    pytest.param(
        {24: "    select: {group: g1, count: 0}"},
        ["s.yaml:24: actions[0].select.count: must be a positive integer, got 0"],
        id="select-count-zero",
    ),
    pytest.param(
        {24: "    select: {group: g1}\n    repeat: {every_days: 0, times: 0}"},
        [
            "s.yaml:25: actions[0].repeat.every_days: must be greater than 0, got 0",
            "s.yaml:25: actions[0].repeat.times: must be a positive integer, got 0",
        ],
        id="repeat-bounds",
    ),
    pytest.param(
        {10: "    sessions_per_day: 4\n    uplink_fraction: 1.2"},
        ["s.yaml:11: traffic_profiles[0].uplink_fraction: must be at most 1, got 1.2"],
        id="uplink-fraction",
    ),
    pytest.param(
        {6: "  - name: plan_a\n    provisioned_allowance: {data_bytes: -1, days: 0}"},
        [
            "s.yaml:7: rate_plans[0].provisioned_allowance.data_bytes: must be a non-negative "
            "integer, got -1",
            "s.yaml:7: rate_plans[0].provisioned_allowance.days: must be greater than 0, got 0",
        ],
        id="allowance-bounds",
    ),
    pytest.param(
        {6: "  - name: plan_a\n    fees:\n      provision: -1\n      curency: EUR"},
        [
            "s.yaml:8: rate_plans[0].fees.provision: must not be negative, got -1",
            "s.yaml:9: rate_plans[0].fees: unknown key 'curency' (did you mean 'currency'?)",
        ],
        id="fees-block-mapping",
    ),
    pytest.param(
        {3: "duration_days: 30\noutputs: {csv: maybe, sessions: {mode: some}}"},
        [
            "s.yaml:4: outputs.sessions.mode: must be one of auto, all, sample, off, got 'some'",
            "s.yaml:4: outputs.csv: must be true or false, got 'maybe'",
        ],
        id="outputs",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), FIELD_CASES)
def test_field_errors(tmp_path: Path, changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(tmp_path, edit(changes)) == expected


# ---------------------------------------------------------------------------------------------
# Model checks: session sizes, jitter, actions' traffic

MODEL_CASES = [
    pytest.param(
        {11: "    session_bytes: {distribution: fixed}"},
        ["s.yaml:11: traffic_profiles[0].session_bytes.bytes: required for distribution 'fixed'"],
        id="fixed-without-bytes",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: fixed, bytes: 100, min_bytes: 1, max_bytes: 2}"},
        [
            "s.yaml:11: traffic_profiles[0].session_bytes.min_bytes: only allowed with "
            "distribution 'uniform'; use 'bytes'",
            "s.yaml:11: traffic_profiles[0].session_bytes.max_bytes: only allowed with "
            "distribution 'uniform'; use 'bytes'",
        ],
        id="fixed-with-range",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: uniform, bytes: 100}"},
        [
            "s.yaml:11: traffic_profiles[0].session_bytes.bytes: only allowed with "
            "distribution 'fixed'; use 'min_bytes' and 'max_bytes'",
            "s.yaml:11: traffic_profiles[0].session_bytes.min_bytes: required for "
            "distribution 'uniform'",
            "s.yaml:11: traffic_profiles[0].session_bytes.max_bytes: required for "
            "distribution 'uniform'",
        ],
        id="uniform-with-bytes",
    ),
    pytest.param(
        {11: "    session_bytes:\n      distribution: uniform\n      min_bytes: 10"},
        [
            "s.yaml:11: traffic_profiles[0].session_bytes.max_bytes: required for "
            "distribution 'uniform'"
        ],
        id="uniform-without-max",
    ),
    pytest.param(
        {
            11: "    session_bytes:\n      distribution: uniform\n      min_bytes: 200\n"
            "      max_bytes: 100"
        },
        [
            "s.yaml:13: traffic_profiles[0].session_bytes.min_bytes: must not exceed max_bytes "
            "(100), got 200"
        ],
        id="min-above-max",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: fixed, bytes: 0}"},
        ["s.yaml:11: traffic_profiles[0].session_bytes.bytes: must be a positive integer, got 0"],
        id="zero-bytes",
    ),
    pytest.param(
        {10: "    sessions_per_day: 4\n    schedule: periodic\n    jitter_s: 10800"},
        [
            "s.yaml:12: traffic_profiles[0].jitter_s: must be less than half the period "
            "(10800 s at 4 sessions per day), got 10800"
        ],
        id="jitter-too-large",
    ),
    pytest.param(
        {10: "    sessions_per_day: 4\n    jitter_s: 60"},
        [
            "s.yaml:11: traffic_profiles[0].jitter_s: only allowed with schedule 'periodic', "
            "not 'poisson'"
        ],
        id="jitter-on-poisson",
    ),
    pytest.param(
        {9: "  - name: none"},
        ["s.yaml:9: traffic_profiles[0].name: 'none' is reserved for no traffic"],
        id="profile-named-none",
    ),
    pytest.param(
        {23: "    action: set_traffic"},
        ["s.yaml:22: actions[0].traffic: required for action 'set_traffic'"],
        id="set-traffic-without-traffic",
    ),
    pytest.param(
        {24: "    traffic: meter"},
        ["s.yaml:24: actions[0].traffic: only allowed with action 'set_traffic', not 'activate'"],
        id="traffic-on-other-action",
    ),
    pytest.param(
        {16: "    traffic: {provisioned: meter, cancelled: meter}"},
        [
            "s.yaml:16: fleet[0].traffic.cancelled: unknown traffic state 'cancelled' "
            "(allowed: provisioned, active_billed, suspended)"
        ],
        id="traffic-mapping-bad-state",
    ),
    pytest.param(
        {16: "    traffic:\n      provisioned: meter\n      initial: none"},
        [
            "s.yaml:18: fleet[0].traffic.initial: unknown traffic state 'initial' "
            "(allowed: provisioned, active_billed, suspended)"
        ],
        id="traffic-mapping-bad-state-block",
    ),
    pytest.param(
        {23: "    action: set_traffic", 24: "    traffic: {suspend: none}"},
        [
            "s.yaml:24: actions[0].traffic.suspend: unknown traffic state 'suspend' "
            "(allowed: provisioned, active_billed, suspended)"
        ],
        id="action-traffic-mapping-bad-state",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), MODEL_CASES)
def test_model_checks(tmp_path: Path, changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(tmp_path, edit(changes)) == expected


def test_jitter_just_below_half_period_is_fine(tmp_path: Path) -> None:
    text = edit({10: "    sessions_per_day: 4\n    schedule: periodic\n    jitter_s: 10799.5"})
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    profile = load_scenario(tmp_path / "s.yaml").traffic_profiles[0]
    assert profile.jitter_s == 10799.5
    assert profile.burst_period_s == 21600.0


# ---------------------------------------------------------------------------------------------
# Traffic profiles: diurnal schedule, bursts, empirical sizes, protocols, connections, loss


def profile_keys(*lines: str) -> dict[int, str]:
    """Changes to :data:`VALID` adding keys to ``traffic_profiles[0]``, one a line from line 12."""
    return {11: "\n".join(["    session_bytes: {distribution: fixed, bytes: 100}",
                           *(f"    {line}" for line in lines)])}  # fmt: skip


def weights(*values: float) -> str:
    """An ``hourly_weights`` line: ``values`` then 1 for the remaining hours (24 in all)."""
    return f"hourly_weights: [{', '.join(f'{v:g}' for v in [*values, *[1] * (24 - len(values))])}]"


SETUP = "'mqtt', 'mqtt-tls', 'http', 'https', 'http-download', 'https-download', 'coap-dtls'"
RETRANSMITTING = (
    "'mqtt', 'mqtt-tls', 'http', 'https', 'http-download', 'https-download', 'coap', 'coap-dtls'"
)
P = "s.yaml:{}: traffic_profiles[0]"  # prefix of the issues of the profile at a line

PROFILE_CASES = [
    # diurnal schedule
    pytest.param(
        profile_keys("schedule: diurnal"),
        [f"{P.format(9)}.hourly_weights: required for schedule 'diurnal'"],
        id="diurnal-without-weights",
    ),
    pytest.param(
        profile_keys("schedule: diurnal", "hourly_weights: [1, 2, 3]"),
        [f"{P.format(13)}.hourly_weights: must list 24 weights, one per hour 0..23, got 3"],
        id="diurnal-three-weights",
    ),
    pytest.param(
        profile_keys("schedule: diurnal", weights(*[0] * 24)),
        [f"{P.format(13)}.hourly_weights: must not all be 0"],
        id="diurnal-zero-weights",
    ),
    pytest.param(
        profile_keys("schedule: diurnal", weights(1, 1, 1, 1, 1, -1)),
        [f"{P.format(13)}.hourly_weights[5]: must not be negative, got -1"],
        id="diurnal-negative-weight",
    ),
    pytest.param(
        profile_keys("hourly_weights: [1]"),
        [f"{P.format(12)}.hourly_weights: only allowed with schedule 'diurnal', not 'poisson'"],
        id="weights-on-poisson",
    ),
    pytest.param(
        profile_keys("schedule: diurnal", weights(), "jitter_s: 5"),
        [f"{P.format(14)}.jitter_s: only allowed with schedule 'periodic', not 'diurnal'"],
        id="jitter-on-diurnal",
    ),
    # bursts
    pytest.param(
        profile_keys("burst_size: 0"),
        [f"{P.format(12)}.burst_size: must be a positive integer, got 0"],
        id="burst-size-zero",
    ),
    pytest.param(
        profile_keys("burst_spacing_s: 5"),
        [f"{P.format(12)}.burst_spacing_s: only allowed with burst_size above 1 (burst_size: 1)"],
        id="burst-spacing-without-burst",
    ),
    pytest.param(
        profile_keys("schedule: periodic", "burst_size: 2", "jitter_s: 21600"),
        [
            f"{P.format(14)}.jitter_s: must be less than half the period (21600 s at 4 sessions "
            "per day in bursts of 2), got 21600"
        ],
        id="jitter-against-burst-period",
    ),
    pytest.param(
        profile_keys(
            "schedule: periodic", "burst_size: 4", "burst_spacing_s: 14000", "jitter_s: 1200"
        ),
        [
            f"{P.format(14)}.burst_spacing_s: a burst of 4 sessions 14000 s apart (42000 s) plus "
            "jitter_s (1200 s) must be less than half the period (43200 s at 4 sessions per day "
            "in bursts of 4)"
        ],
        id="periodic-burst-too-long",
    ),
    pytest.param(
        profile_keys("burst_size: 3", "burst_spacing_s: 43200"),
        [
            f"{P.format(13)}.burst_spacing_s: a burst of 3 sessions 43200 s apart spans 86400 s, "
            "must be less than a day (86400 s)"
        ],
        id="poisson-burst-a-day-long",
    ),
    pytest.param(
        profile_keys("schedule: diurnal", weights(), "burst_size: 2", "burst_spacing_s: 100000"),
        [
            f"{P.format(15)}.burst_spacing_s: a burst of 2 sessions 100000 s apart spans "
            "100000 s, must be less than a day (86400 s)"
        ],
        id="diurnal-burst-too-long",
    ),
    # empirical sizes
    pytest.param(
        {11: "    session_bytes: {distribution: empirical}"},
        [f"{P.format(11)}.session_bytes.values: required for distribution 'empirical'"],
        id="empirical-without-values",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: empirical, values: []}"},
        [f"{P.format(11)}.session_bytes.values: must list at least 1 entry, got an empty list"],
        id="empirical-empty-values",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: empirical, values: [0, 5]}"},
        [f"{P.format(11)}.session_bytes.values[0]: must be at least 1, got 0"],
        id="empirical-zero-value",
    ),
    pytest.param(
        {11: "    session_bytes:\n      distribution: empirical\n      values: [100, 200, 100]"},
        [f"{P.format(13)}.session_bytes.values[2]: duplicate size 100 (first at values[0])"],
        id="empirical-duplicate-value",
    ),
    pytest.param(
        {
            11: "    session_bytes: {distribution: empirical, values: ["
            + ", ".join(str(v) for v in range(1, 4098))
            + "]}"
        },
        [f"{P.format(11)}.session_bytes.values: must list at most 4,096 sizes, got 4,097"],
        id="empirical-too-many-values",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: empirical, values: [100, 200], weights: [1]}"},
        [f"{P.format(11)}.session_bytes.weights: must list one weight per value (2 values), got 1"],
        id="empirical-weights-length",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: empirical, values: [100, 200], weights: [0, 0]}"},
        [f"{P.format(11)}.session_bytes.weights: must not all be 0"],
        id="empirical-zero-weights",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: empirical, values: [1], weights: [-1]}"},
        [f"{P.format(11)}.session_bytes.weights[0]: must not be negative, got -1"],
        id="empirical-negative-weight",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: fixed, bytes: 100, values: [1], weights: [1]}"},
        [
            f"{P.format(11)}.session_bytes.values: only allowed with distribution 'empirical'; "
            "use 'bytes'",
            f"{P.format(11)}.session_bytes.weights: only allowed with distribution 'empirical'; "
            "use 'bytes'",
        ],
        id="values-on-fixed",
    ),
    pytest.param(
        {11: "    session_bytes: {distribution: empirical, bytes: 5, min_bytes: 1, values: [1]}"},
        [
            f"{P.format(11)}.session_bytes.bytes: only allowed with distribution 'fixed'; "
            "use 'values' and 'weights'",
            f"{P.format(11)}.session_bytes.min_bytes: only allowed with distribution 'uniform'; "
            "use 'values' and 'weights'",
        ],
        id="bytes-on-empirical",
    ),
    pytest.param(
        {
            11: "    session_bytes: {distribution: uniform, min_bytes: 1, max_bytes: 1048577}\n"
            "    protocol: mqtt"
        },
        [
            f"{P.format(11)}.session_bytes: payload range of a 'mqtt' profile must span at most "
            "1,048,576 values, got 1..1,048,577"
        ],
        id="uniform-payload-range",
    ),
    # SMS
    pytest.param(
        profile_keys("sms_per_day: 1"),
        [
            f"{P.format(12)}: unknown key 'sms_per_day' (now 'sms_mo_per_day' for SMS sent by "
            "the device and 'sms_mt_per_day' for SMS received)"
        ],
        id="sms-per-day-renamed",
    ),
    pytest.param(
        {
            11: "    session_bytes: {distribution: empirical, values: [5, 5]}\n"
            "    sms_per_day: 1\n    sms_mt_per_day: -1\n    colour: red"
        },
        [
            f"{P.format(11)}.session_bytes.values[1]: duplicate size 5 (first at values[0])",
            f"{P.format(12)}: unknown key 'sms_per_day' (now 'sms_mo_per_day' for SMS sent by "
            "the device and 'sms_mt_per_day' for SMS received)",
            f"{P.format(13)}.sms_mt_per_day: must not be negative, got -1",
            f"{P.format(14)}: unknown key 'colour' (allowed: name, schedule, sessions_per_day, "
            "hourly_weights, jitter_s, burst_size, burst_spacing_s, protocol, session_bytes, "
            "uplink_fraction, tls_version, mqtt_qos, ip_version, coap_type, connection, keepalive_s, "
            "loss_probability, establishment_failure_probability, max_attempts, "
            "retry_interval_s, apn, session_duration_s, sms_mo_per_day, sms_mt_per_day)",
        ],
        id="sms-per-day-renamed-and-other-issues",
    ),
    pytest.param(
        profile_keys("sms_per_day: 1", "jitter_s: 5"),
        [
            f"{P.format(12)}: unknown key 'sms_per_day' (now 'sms_mo_per_day' for SMS sent by "
            "the device and 'sms_mt_per_day' for SMS received)",
            f"{P.format(13)}.jitter_s: only allowed with schedule 'periodic', not 'poisson'",
        ],
        id="sms-per-day-renamed-and-model-issue",
    ),
    pytest.param(
        profile_keys("sms_mo_per_dy: 1"),
        [f"{P.format(12)}: unknown key 'sms_mo_per_dy' (did you mean 'sms_mo_per_day'?)"],
        id="sms-mo-misspelt",
    ),
    # connection
    pytest.param(
        profile_keys("protocol: http", "connection: persistent"),
        [
            f"{P.format(13)}.connection: 'persistent' only allowed with protocol 'mqtt' or "
            "'mqtt-tls', not 'http'"
        ],
        id="persistent-http",
    ),
    pytest.param(
        profile_keys("connection: persistent"),
        [
            f"{P.format(12)}.connection: 'persistent' only allowed with protocol 'mqtt' or "
            "'mqtt-tls', not 'raw'"
        ],
        id="persistent-raw",
    ),
    pytest.param(
        profile_keys("connection: always"),
        [f"{P.format(12)}.connection: must be one of per_report, persistent, got 'always'"],
        id="connection-unknown",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "keepalive_s: 60"),
        [
            f"{P.format(13)}.keepalive_s: only allowed with connection 'persistent', not 'per_report'"
        ],
        id="keepalive-per-report",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "connection: persistent", "keepalive_s: 65536"),
        [f"{P.format(14)}.keepalive_s: must be at most 65535, got 65536"],
        id="keepalive-above-16-bits",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "connection: persistent", "keepalive_s: 0"),
        [f"{P.format(14)}.keepalive_s: must be a positive integer, got 0"],
        id="keepalive-zero",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "connection: persistent", "keepalive_s: 60.5"),
        [f"{P.format(14)}.keepalive_s: must be an integer, got 60.5"],
        id="keepalive-float",
    ),
    # loss and failures
    pytest.param(
        profile_keys("loss_probability: 0.1"),
        [
            f"{P.format(12)}.loss_probability: only allowed with a protocol that sends lost data "
            f"again ({RETRANSMITTING}), not 'raw'"
        ],
        id="loss-raw",
    ),
    pytest.param(
        profile_keys("protocol: udp", "loss_probability: 0"),
        [
            f"{P.format(13)}.loss_probability: only allowed with a protocol that sends lost data "
            f"again ({RETRANSMITTING}), not 'udp'"
        ],
        id="loss-udp",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "loss_probability: 0.6"),
        [f"{P.format(13)}.loss_probability: must be at most 0.5, got 0.6"],
        id="loss-above-half",
    ),
    pytest.param(
        profile_keys("protocol: coap", "establishment_failure_probability: 0.1"),
        [
            f"{P.format(13)}.establishment_failure_probability: only allowed with a protocol "
            f"that sets up a connection ({SETUP}), not 'coap'"
        ],
        id="establishment-failure-coap",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "establishment_failure_probability: 1"),
        [f"{P.format(13)}.establishment_failure_probability: must be less than 1, got 1"],
        id="establishment-failure-certain",
    ),
    pytest.param(
        profile_keys("protocol: udp", "max_attempts: 2", "retry_interval_s: 5"),
        [
            f"{P.format(13)}.max_attempts: only allowed with a protocol that sets up a "
            f"connection ({SETUP}), not 'udp'",
            f"{P.format(14)}.retry_interval_s: only allowed with a protocol that sets up a "
            f"connection ({SETUP}), not 'udp'",
        ],
        id="retries-udp",
    ),
    pytest.param(
        profile_keys("max_attempts: 3"),
        [
            f"{P.format(12)}.max_attempts: only allowed with a protocol that sets up a "
            f"connection ({SETUP}), not 'raw'"
        ],
        id="retries-raw",
    ),
    pytest.param(
        profile_keys("protocol: https", "max_attempts: 11", "retry_interval_s: -1"),
        [
            f"{P.format(13)}.max_attempts: must be at most 10, got 11",
            f"{P.format(14)}.retry_interval_s: must not be negative, got -1",
        ],
        id="retries-bounds",
    ),
    pytest.param(
        profile_keys("protocol: https", "max_attempts: 0"),
        [f"{P.format(13)}.max_attempts: must be a positive integer, got 0"],
        id="max-attempts-zero",
    ),
    pytest.param(
        profile_keys("protocol: ftp"),
        [
            f"{P.format(12)}.protocol: must be one of raw, mqtt, mqtt-tls, http, https, "
            "http-download, https-download, coap, coap-dtls, udp, got 'ftp'"
        ],
        id="protocol-unknown",
    ),
    # apn
    pytest.param(
        profile_keys("apn: iot cellfleet"),
        [
            f"{P.format(12)}.apn: must contain only letters, digits, '_', '.' and '-', "
            "got 'iot cellfleet'"
        ],
        id="apn-pattern",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), PROFILE_CASES)
def test_profile_checks(tmp_path: Path, changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(tmp_path, edit(changes)) == expected


def test_profile_defaults(valid: Scenario) -> None:
    profile = valid.traffic_profiles[0]
    assert (profile.schedule, profile.hourly_weights) == ("poisson", None)
    assert profile.hourly_rate_share == (1 / 24,) * 24
    assert (profile.burst_size, profile.burst_spacing_s) == (1, 0.0)
    assert profile.burst_period_s == 21600.0
    assert (profile.connection, profile.keepalive_s) == ("per_report", None)
    assert profile.apn == "iot.cellfleet"
    assert (profile.sms_mo_per_day, profile.sms_mt_per_day) == (0.0, 0.0)
    assert profile.session_bytes.choices == ((100,), (1.0,))


def test_no_sessions_no_period() -> None:
    profile = parse_scenario(edit({10: "    sessions_per_day: 0"})).traffic_profiles[0]
    assert profile.burst_period_s is None


def test_diurnal_profile(tmp_path: Path) -> None:
    hours = [0] * 6 + [1] * 12 + [2] * 6
    text = edit(profile_keys("schedule: diurnal", weights(*hours), "burst_size: 2",
                             "burst_spacing_s: 30"))  # fmt: skip
    profile = parse_scenario(text).traffic_profiles[0]
    assert profile.schedule == "diurnal"
    assert profile.hourly_weights == [float(h) for h in hours]
    assert profile.hourly_rate_share == tuple(h / 24 for h in hours)
    assert sum(profile.hourly_rate_share) == pytest.approx(1)
    assert (profile.burst_size, profile.burst_spacing_s) == (2, 30.0)
    assert profile.burst_period_s == 43200.0  # 4 sessions a day in bursts of 2


def test_periodic_burst_that_just_fits() -> None:
    text = edit(profile_keys("schedule: periodic", "burst_size: 4", "burst_spacing_s: 14000",
                             "jitter_s: 1199.5"))  # fmt: skip
    profile = parse_scenario(text).traffic_profiles[0]
    assert profile.burst_period_s == profile.burst_period_s == 86400.0
    assert (profile.burst_size - 1) * profile.burst_spacing_s + profile.jitter_s < 43200


def test_empirical_sizes() -> None:
    text = edit({11: "    session_bytes:\n      distribution: empirical\n"
                     "      values: [100, 300, 1000]\n      weights: [1, 1, 2]"})  # fmt: skip
    sizes = parse_scenario(text).traffic_profiles[0].session_bytes
    assert sizes.values == [100, 300, 1000]
    assert sizes.choices == ((100, 300, 1000), (0.25, 0.25, 0.5))
    assert sizes.range_bytes == (100, 1000)
    assert sizes.mean_bytes == 600.0
    equal = parse_scenario(edit({11: "    session_bytes: {distribution: empirical, values: "
                                     "[30, 10, 20]}"})).traffic_profiles[0].session_bytes  # fmt: skip
    assert equal.weights is None
    assert equal.choices == ((30, 10, 20), (1 / 3, 1 / 3, 1 / 3))
    assert equal.range_bytes == (10, 30)
    assert equal.mean_bytes == pytest.approx(20)


def test_uniform_sizes_have_no_choices() -> None:
    text = edit({11: "    session_bytes: {distribution: uniform, min_bytes: 1, max_bytes: 3}"})
    sizes = parse_scenario(text).traffic_profiles[0].session_bytes
    with pytest.raises(ValueError, match="uniform"):
        _ = sizes.choices


@pytest.mark.parametrize(
    "session_bytes",
    [
        "{distribution: fixed, bytes: 5000000}",
        "{distribution: empirical, values: [1, 5000000]}",
        "{distribution: uniform, min_bytes: 1, max_bytes: 1048576}",
    ],
)
def test_payload_range_limit_is_for_uniform_only(session_bytes: str) -> None:
    text = edit({11: f"    session_bytes: {session_bytes}\n    protocol: mqtt"})
    assert parse_scenario(text).traffic_profiles[0].protocol == "mqtt"


def test_wire_model_checks_the_largest_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    class Session:
        def writes(self, payload_bytes: int) -> list:
            seen.append(payload_bytes)
            raise ValueError("too big for the test")

    monkeypatch.setattr(profiles, "session_for_profile", lambda profile: Session())
    text = edit({11: "    session_bytes: {distribution: empirical, values: [7, 900, 50]}\n"
                     "    protocol: mqtt"})  # fmt: skip
    assert issues_of(tmp_path, text) == [
        f"{P.format(11)}.session_bytes: 900 bytes cannot be carried by 'mqtt': too big for the test"
    ]
    assert seen == [900]


def test_protocol_unknown_to_the_wire_model_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(profile: object) -> None:
        raise KeyError("https-download")

    monkeypatch.setattr(profiles, "session_for_profile", unknown)
    profile = parse_scenario(edit(profile_keys("protocol: https-download"))).traffic_profiles[0]
    assert profile.protocol == "https-download"


NO_RETRIES = (None, None, None, None)


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("raw", NO_RETRIES),
        ("udp", NO_RETRIES),
        ("coap", (0.0, None, None, None)),
        ("coap-dtls", (0.0, 0.0, 3, 30.0)),
        ("mqtt", (0.0, 0.0, 3, 30.0)),
        ("http-download", (0.0, 0.0, 3, 30.0)),
        ("https-download", (0.0, 0.0, 3, 30.0)),
    ],
)
def test_loss_and_retry_defaults(protocol: str, expected: tuple) -> None:
    profile = parse_scenario(edit(profile_keys(f"protocol: {protocol}"))).traffic_profiles[0]
    assert (
        profile.loss_probability,
        profile.establishment_failure_probability,
        profile.max_attempts,
        profile.retry_interval_s,
    ) == expected
    assert profile.tls_version == (None if protocol == "raw" else "1.3")


def test_loss_and_retries_given() -> None:
    text = edit(profile_keys("protocol: https-download", "loss_probability: 0.5",
                             "establishment_failure_probability: 0.25", "max_attempts: 10",
                             "retry_interval_s: 0", "tls_version: '1.2'"))  # fmt: skip
    profile = parse_scenario(text).traffic_profiles[0]
    assert profile.loss_probability == 0.5
    assert profile.establishment_failure_probability == 0.25
    assert (profile.max_attempts, profile.retry_interval_s) == (10, 0.0)
    assert profile.tls_version == "1.2"


def test_persistent_connection() -> None:
    text = edit(profile_keys("protocol: mqtt-tls", "connection: persistent"))
    profile = parse_scenario(text).traffic_profiles[0]
    assert (profile.connection, profile.keepalive_s) == ("persistent", 1200)
    text = edit(profile_keys("protocol: mqtt", "connection: persistent", "keepalive_s: 65535"))
    assert parse_scenario(text).traffic_profiles[0].keepalive_s == 65535


def test_sms_and_apn() -> None:
    text = edit(profile_keys("sms_mo_per_day: 0.5", "sms_mt_per_day: 2", "apn: m2m.example-1"))
    profile = parse_scenario(text).traffic_profiles[0]
    assert (profile.sms_mo_per_day, profile.sms_mt_per_day) == (0.5, 2.0)
    assert profile.apn == "m2m.example-1"


# ---------------------------------------------------------------------------------------------
# send_once actions and interim session records

SEND_ONCE_CASES = [
    pytest.param(
        {23: "    action: send_once"},
        ["s.yaml:22: actions[0].profile: required for action 'send_once'"],
        id="send-once-without-profile",
    ),
    pytest.param(
        {24: "    select: {group: g1}\n    profile: meter\n    spread_s: 60"},
        [
            "s.yaml:25: actions[0].profile: only allowed with action 'send_once', not 'activate'",
            "s.yaml:26: actions[0].spread_s: only allowed with actions 'send_once' and 'power_on', not 'activate'",
        ],
        id="profile-on-other-action",
    ),
    pytest.param(
        {23: "    action: send_once", 24: "    profile: none"},
        ["s.yaml:24: actions[0].profile: must name a traffic profile; 'none' sends nothing"],
        id="send-once-none",
    ),
    pytest.param(
        {23: "    action: send_once", 24: "    profile: metre"},
        ["s.yaml:24: actions[0].profile: unknown traffic profile 'metre' (known: meter)"],
        id="send-once-unknown-profile",
    ),
    pytest.param(
        {23: "    action: send_once", 24: "    profile: meter\n    traffic: meter"},
        ["s.yaml:25: actions[0].traffic: only allowed with action 'set_traffic', not 'send_once'"],
        id="traffic-on-send-once",
    ),
    pytest.param(
        {23: "    action: send_once", 24: "    profile: meter\n    spread_s: -1"},
        ["s.yaml:25: actions[0].spread_s: must not be negative, got -1"],
        id="send-once-negative-spread",
    ),
    pytest.param(
        {
            **profile_keys("protocol: mqtt", "connection: persistent"),
            23: "    action: send_once",
            24: "    profile: meter",
        },
        [
            "s.yaml:26: actions[0].profile: profile 'meter' has connection 'persistent'; "
            "send_once needs connection 'per_report'"
        ],
        id="send-once-persistent-profile",
    ),
    pytest.param(
        {3: "duration_days: 30\noutputs: {sessions: {interim_time_s: 0, interim_volume_bytes: 0}}"},
        [
            "s.yaml:4: outputs.sessions.interim_time_s: must be greater than 0, got 0",
            "s.yaml:4: outputs.sessions.interim_volume_bytes: must be a positive integer, got 0",
        ],
        id="interim-bounds",
    ),
    pytest.param(
        profile_keys("protocol: coap", "coap_type: non-confirmable", "loss_probability: 0.1"),
        [f"{P.format(14)}.loss_probability: a non-confirmable CoAP request is never sent again; use coap_type "
         "'confirmable' to model losses"],
        id="coap-non-confirmable-loss",
    ),
    pytest.param(
        profile_keys("protocol: mqtt", "coap_type: confirmable"),
        [f"{P.format(13)}.coap_type: only allowed with protocol 'coap' or 'coap-dtls', not 'mqtt'"],
        id="coap-type-elsewhere",
    ),
    pytest.param(
        {3: "duration_days: 30\noutputs: {pcap: {devices: 2, from_day: 3, to_day: 1}}"},
        ["s.yaml:4: outputs.pcap.to_day: must be after from_day (3), got 1"],
        id="pcap-window",
    ),
    pytest.param(
        {3: "duration_days: 30\noutputs: {sessions: {mode: 'off'}, pcap: {devices: 2}}"},
        ["s.yaml:4: outputs.pcap.devices: needs recorded devices; sessions.mode is 'off'"],
        id="pcap-needs-recorded-devices",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), SEND_ONCE_CASES)
def test_send_once_and_interim_checks(
    tmp_path: Path, changes: dict[int, str], expected: list[str]
) -> None:
    assert issues_of(tmp_path, edit(changes)) == expected


def test_send_once() -> None:
    text = edit(
        {
            11: "    session_bytes: {distribution: fixed, bytes: 100}\n  - name: firmware\n"
            "    sessions_per_day: 0\n    protocol: https-download\n"
            "    session_bytes: {distribution: fixed, bytes: 2000000}",
            23: "    action: send_once",
            24: "    profile: firmware\n    spread_s: 86400\n    repeat: {every_days: 10, times: 3}"
            "\n  - at_day: 1\n    action: send_once\n    profile: meter",
        }
    )
    scenario = parse_scenario(text)
    monthly, once = scenario.actions
    assert (monthly.action, monthly.profile, monthly.spread_s) == ("send_once", "firmware", 86400)
    assert monthly.occurrence_days() == [5, 15, 25]
    assert (once.profile, once.spread_s) == ("meter", 0.0)  # default in effect
    assert scenario.actions[0].traffic is None
    assert parse_scenario(VALID).actions[0].spread_s is None  # not a send_once


def test_interim_records() -> None:
    sessions = parse_scenario(VALID).outputs.sessions
    assert (sessions.interim_time_s, sessions.interim_volume_bytes) == (None, None)
    text = edit(
        {
            3: "duration_days: 30\noutputs:\n  sessions: {interim_time_s: 3600, "
            "interim_volume_bytes: 1048576}"
        }
    )
    sessions = parse_scenario(text).outputs.sessions
    assert (sessions.interim_time_s, sessions.interim_volume_bytes) == (3600.0, 1048576)


# ---------------------------------------------------------------------------------------------
# Cross references and the timeline

REFERENCE_CASES = [
    pytest.param(
        {15: "    rate_plan: plan_c"},
        ["s.yaml:15: fleet[0].rate_plan: unknown rate plan 'plan_c' (known: plan_a, plan_b)"],
        id="unknown-rate-plan",
    ),
    pytest.param(
        {16: "    traffic: metre"},
        ["s.yaml:16: fleet[0].traffic: unknown traffic profile 'metre' (known: none, meter)"],
        id="unknown-profile",
    ),
    pytest.param(
        {16: "    traffic:\n      provisioned: meter\n      suspended: tracker"},
        [
            "s.yaml:18: fleet[0].traffic.suspended: unknown traffic profile 'tracker' "
            "(known: none, meter)"
        ],
        id="unknown-profile-in-mapping",
    ),
    pytest.param(
        {23: "    action: set_traffic", 24: "    traffic: silent"},
        ["s.yaml:24: actions[0].traffic: unknown traffic profile 'silent' (known: none, meter)"],
        id="unknown-profile-in-action",
    ),
    pytest.param(
        {24: "    select: {group: g3}"},
        ["s.yaml:24: actions[0].select.group: unknown fleet group 'g3' (known: g1, g2)"],
        id="unknown-group",
    ),
    pytest.param(
        {24: "    select:\n      group:\n        - g1\n        - g4"},
        ["s.yaml:27: actions[0].select.group[1]: unknown fleet group 'g4' (known: g1, g2)"],
        id="unknown-group-in-list",
    ),
    pytest.param(
        {7: "  - name: plan_a"},
        [
            "s.yaml:7: rate_plans[1].name: duplicate rate plan name 'plan_a' "
            "(first at rate_plans[0])",
            "s.yaml:19: fleet[1].rate_plan: unknown rate plan 'plan_b' (known: plan_a)",
        ],
        id="duplicate-rate-plan",
    ),
    pytest.param(
        {17: "  - name: g1"},
        ["s.yaml:17: fleet[1].name: duplicate fleet group name 'g1' (first at fleet[0])"],
        id="duplicate-group",
    ),
    pytest.param(
        {
            11: "    session_bytes: {distribution: fixed, bytes: 100}\n  - name: meter\n"
            "    sessions_per_day: 1\n    session_bytes: {distribution: fixed, bytes: 5}"
        },
        [
            "s.yaml:12: traffic_profiles[1].name: duplicate traffic profile name 'meter' "
            "(first at traffic_profiles[0])"
        ],
        id="duplicate-profile",
    ),
    pytest.param(
        {22: "  - at_day: 30"},
        [
            "s.yaml:22: actions[0].at_day: must be before the end of the run "
            "(duration_days: 30), got 30"
        ],
        id="at-day-at-end",
    ),
    pytest.param(
        {22: "  - at_day: 41.5"},
        [
            "s.yaml:22: actions[0].at_day: must be before the end of the run "
            "(duration_days: 30), got 41.5"
        ],
        id="at-day-beyond-end",
    ),
    pytest.param(
        {24: "    select: {group: g1}\n    repeat: {every_days: 10, times: 4}"},
        [
            "s.yaml:25: actions[0].repeat: occurrence 4 of 4 falls on day 35, not before the end "
            "of the run (duration_days: 30)"
        ],
        id="repeat-beyond-end",
    ),
    pytest.param(
        {22: "  - at_day: -1"},
        ["s.yaml:22: actions[0].at_day: must not be negative, got -1"],
        id="at-day-negative",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), REFERENCE_CASES)
def test_reference_checks(tmp_path: Path, changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(tmp_path, edit(changes)) == expected


def test_repeat_ending_before_the_end_is_fine(tmp_path: Path) -> None:
    text = edit({24: "    select: {group: g1}\n    repeat: {every_days: 10, times: 3}"})
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    assert load_scenario(tmp_path / "s.yaml").actions[0].occurrence_days() == [5, 15, 25]


# ---------------------------------------------------------------------------------------------
# File-level problems


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = edit({14: "    count: 3\n    count: 4"})
    assert issues_of(tmp_path, text) == [
        "s.yaml:15: fleet[0].count: duplicate key 'count' (first at line 14)"
    ]


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    text = edit({4: "seed: 1\nseed: 2"})
    assert issues_of(tmp_path, text) == ["s.yaml:5: seed: duplicate key 'seed' (first at line 4)"]


def test_yaml_merge_key_is_not_a_duplicate(tmp_path: Path) -> None:
    text = edit(
        {
            13: "  - &base\n    name: g1",
            17: "  - <<: *base\n    name: g2",
            18: "    count: 1",
            19: "    rate_plan: plan_b",
            20: "",
        }
    )
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    scenario = load_scenario(tmp_path / "s.yaml")
    assert [(g.name, g.rate_plan, g.traffic) for g in scenario.fleet] == [
        ("g1", "plan_a", "meter"),
        ("g2", "plan_b", "meter"),
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = edit({14: "    count: 3: 4"})
    assert issues_of(tmp_path, text) == [
        "s.yaml:14: YAML syntax error: mapping values are not allowed here (column 13)"
    ]


def test_yaml_unclosed_flow_sequence(tmp_path: Path) -> None:
    text = edit({24: "    select: {group: [g1}"})
    assert issues_of(tmp_path, text) == [
        "s.yaml:24: YAML syntax error: while parsing a flow sequence, expected ',' or ']', "
        "but got '}' (column 24)"
    ]


def test_several_documents(tmp_path: Path) -> None:
    assert issues_of(tmp_path, VALID + "---\nname: other\n") == [
        "s.yaml:25: YAML syntax error: expected a single document in the stream, "
        "but found another document (column 1)"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert issues_of(tmp_path, text) == [
        "s.yaml: the file is empty; expected a mapping of scenario keys"
    ]


def test_top_level_list(tmp_path: Path) -> None:
    assert issues_of(tmp_path, "# scenario\n- name: t\n- seed: 1\n") == [
        "s.yaml:2: the top level must be a mapping of scenario keys, got a list"
    ]


def test_top_level_scalar(tmp_path: Path) -> None:
    assert issues_of(tmp_path, "hello\n") == [
        "s.yaml:1: the top level must be a mapping of scenario keys, got the string 'hello'"
    ]


def _builtins_text() -> str:
    return ", ".join(builtin_names()) or "none installed"


def test_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(missing)
    assert str(info.value) == (
        f"{missing}: no such file or built-in scenario (built-ins: {_builtins_text()})"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario("no-such-scenario-name")
    assert str(info.value) == (
        f"no-such-scenario-name: no such file or built-in scenario (built-ins: {_builtins_text()})"
    )


def test_directory_is_not_a_scenario(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a scenario file"


def test_parse_scenario_from_text() -> None:
    assert parse_scenario(VALID).total_devices == 4
    with pytest.raises(ScenarioError) as info:
        parse_scenario(edit({14: "    count: -5"}), "inline")
    assert str(info.value) == "inline:14: fleet[0].count: must be a positive integer, got -5"


# ---------------------------------------------------------------------------------------------
# Built-ins (against a temporary built-in directory)


@pytest.fixture
def builtin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "builtin"
    directory.mkdir()
    text = VALID.replace("name: t ", "name: demo").replace(
        "seed: 1 ", "seed: 1\ndescription: |\n  A tiny demo.\n  More words.\n"
    )
    (directory / "demo.yaml").write_text(text, encoding="utf-8")
    (directory / "broken.yaml").write_text(edit({14: "    count: -5"}), encoding="utf-8")
    (directory / "README.txt").write_text("not a scenario", encoding="utf-8")
    monkeypatch.setattr(loader, "_builtin_dir", lambda: directory)
    return directory


def test_builtins(builtin_dir: Path) -> None:
    assert builtin_names() == ["broken", "demo"]
    assert builtin_summary("demo") == "A tiny demo."
    assert builtin_summary("broken") == ""
    assert builtin_text("demo") == (builtin_dir / "demo.yaml").read_text(encoding="utf-8")
    assert load_scenario("demo").name == "demo"
    with pytest.raises(ScenarioError) as info:
        load_scenario("broken")
    assert str(info.value) == (
        "builtin/broken.yaml:14: fleet[0].count: must be a positive integer, got -5"
    )
    with pytest.raises(ScenarioError) as info:
        builtin_text("nope")
    assert str(info.value) == "nope: no such file or built-in scenario (built-ins: broken, demo)"


def test_existing_file_wins_over_builtin(
    builtin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "demo").write_text(VALID, encoding="utf-8")
    monkeypatch.chdir(work)
    assert load_scenario("demo").name == "t"


# ---------------------------------------------------------------------------------------------
# Overrides


def test_override_seed(valid: Scenario) -> None:
    changed = apply_overrides(valid, seed=99)
    assert changed.seed == 99
    assert changed.model_copy(update={"seed": 1}) == valid
    assert valid.seed == 1


def test_no_overrides_is_identity(valid: Scenario) -> None:
    assert apply_overrides(valid) == valid


@pytest.mark.parametrize(
    ("counts", "devices", "expected"),
    [
        ([3, 1], 10, [8, 2]),  # 7.5 / 2.5: tie on the remainder, the earlier group wins
        ([1, 3], 10, [3, 7]),  # 2.5 / 7.5: same tie, the earlier group wins again
        ([1, 1], 3, [2, 1]),  # 1.5 / 1.5
        ([1, 1, 1], 5, [2, 2, 1]),
        ([5, 3, 2], 7, [4, 2, 1]),  # 3.5 / 2.1 / 1.4
        ([3, 1], 4, [3, 1]),  # unchanged
        ([3, 1], 2, [1, 1]),
        ([98, 1, 1], 10, [8, 1, 1]),  # 9.8 / 0.1 / 0.1: small groups keep one device
        ([1, 1000], 2, [1, 1]),
        ([10, 20, 30], 1000, [167, 333, 500]),  # 166.67 / 333.33 / 500
    ],
)
def test_rescale_counts(counts: list[int], devices: int, expected: list[int]) -> None:
    assert rescale_counts(counts, devices) == expected


def test_override_devices(valid: Scenario) -> None:
    text = edit({24: "    select: {group: g1, count: 2}"})
    scenario = parse_scenario(text)
    changed = apply_overrides(scenario, devices=10)
    assert [g.count for g in changed.fleet] == [8, 2]
    assert changed.total_devices == 10
    assert changed.actions[0].select.count == 5  # 2 x 10/4
    smaller = apply_overrides(scenario, devices=2)
    assert [g.count for g in smaller.fleet] == [1, 1]
    assert smaller.actions[0].select.count == 1  # 2 x 2/4 = 1
    tiny = parse_scenario(edit({24: "    select: {group: g1, count: 1}"}))
    assert apply_overrides(tiny, devices=2).actions[0].select.count == 1  # 0.5 rounds up


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"devices": 1}, "--devices: must be at least the number of fleet groups (2), got 1"),
        ({"devices": 0}, "--devices: must be a positive integer, got 0"),
        ({"devices": "ten"}, "--devices: must be an integer, got 'ten'"),
        ({"devices": True}, "--devices: must be an integer, got true"),
        ({"seed": -1}, "--seed: must be a non-negative integer, got -1"),
        ({"days": 0}, "--days: must be a positive integer, got 0"),
        ({"days": 2.5}, "--days: must be an integer, got 2.5"),
    ],
)
def test_bad_overrides(valid: Scenario, kwargs: dict, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(valid, **kwargs)
    assert str(info.value) == expected
    assert info.value.issues[0].path == expected.split(":")[0]


def test_override_days_drops_and_truncates_actions() -> None:
    scenario = parse_scenario(
        edit(
            {
                24: "    select: {group: g1}\n    repeat: {every_days: 10, times: 3}\n"
                "  - at_day: 22\n    action: suspend\n  - at_day: 0\n    action: cancel"
            }
        )
    )
    assert [a.occurrence_days() for a in scenario.actions] == [[5, 15, 25], [22], [0]]
    shorter = apply_overrides(scenario, days=20)
    assert shorter.duration_days == 20
    assert [a.action for a in shorter.actions] == ["activate", "cancel"]
    assert [a.occurrence_days() for a in shorter.actions] == [[5, 15], [0]]
    assert shorter.actions[0].repeat is not None and shorter.actions[0].repeat.times == 2
    assert [a.action for a in apply_overrides(scenario, days=5).actions] == ["cancel"]
    assert apply_overrides(scenario, days=1, devices=2, seed=3).actions[0].action == "cancel"
    longer = apply_overrides(scenario, days=100)
    assert longer.duration_days == 100
    assert longer.actions == scenario.actions


@settings(max_examples=300, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=8),
    data=st.data(),
)
def test_rescale_property(counts: list[int], data: st.DataObject) -> None:
    devices = data.draw(st.integers(min_value=len(counts), max_value=50_000))
    seats = rescale_counts(counts, devices)
    assert sum(seats) == devices
    assert all(s >= 1 for s in seats)
    quotas = [c * devices / sum(counts) for c in counts]
    if min(quotas) >= 1:  # no group needed topping up: pure largest remainder
        assert all(abs(s - q) < 1 for s, q in zip(seats, quotas, strict=True))


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=6),
    data=st.data(),
)
def test_apply_overrides_devices_property(counts: list[int], data: st.DataObject) -> None:
    devices = data.draw(st.integers(min_value=len(counts), max_value=5_000))
    fleet = "".join(
        f"  - {{name: g{i}, count: {c}, rate_plan: p, traffic: none}}\n"
        for i, c in enumerate(counts)
    )
    scenario = parse_scenario(
        "name: p\nstart_date: 2024-01-01\nduration_days: 1\nseed: 0\n"
        "rate_plans: [{name: p}]\nfleet:\n" + fleet
    )
    changed = apply_overrides(scenario, devices=devices)
    assert changed.total_devices == devices
    assert all(g.count >= 1 for g in changed.fleet)
    assert [g.name for g in changed.fleet] == [g.name for g in scenario.fleet]


# ---------------------------------------------------------------------------------------------
# Round trip

RICH = """\
name: rich
description: |
  Every kind of field.
  Second line.
start_date: 2024-02-29
duration_days: 60
seed: 12345
rate_plans:
  - name: test.plan-1
    provisioned_allowance: {data_bytes: 1048576, sms_count: 10, days: 30}
    suspended_allowance: {days: 7.5}
    fees: {provision: 1.25, first_bill_activation: 2, deactivation: 0.5, currency: EUR}
  - name: plain
traffic_profiles:
  - name: meter
    schedule: periodic
    sessions_per_day: 24
    jitter_s: 90.5
    session_bytes: {distribution: uniform, min_bytes: 100, max_bytes: 5000}
    uplink_fraction: 0.8
    session_duration_s: 2.5
    sms_mo_per_day: 0.1
    sms_mt_per_day: 0.25
    burst_size: 3
    burst_spacing_s: 10
  - name: burst
    sessions_per_day: 0.3333
    session_bytes: {distribution: fixed, bytes: 1000000}
  - name: daily
    schedule: diurnal
    sessions_per_day: 12
    hourly_weights: [0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 1, 0.5, 0, 0, 0]
    protocol: https
    tls_version: '1.2'
    session_bytes: {distribution: empirical, values: [200, 1500, 9000], weights: [6, 3, 1]}
    loss_probability: 0.02
    establishment_failure_probability: 0.01
    max_attempts: 5
    retry_interval_s: 60
    apn: m2m.example
  - name: live
    protocol: mqtt-tls
    connection: persistent
    sessions_per_day: 96
    session_bytes: {distribution: uniform, min_bytes: 20, max_bytes: 200}
  - name: firmware
    sessions_per_day: 0
    protocol: https-download
    session_bytes: {distribution: fixed, bytes: 4000000}
fleet:
  - name: meters
    count: 900
    rate_plan: test.plan-1
    account: acme
    report_group: east
    traffic: {provisioned: burst, active_billed: meter}
  - name: spares
    count: 100
    rate_plan: plain
    initial_state: initial
    traffic: none
actions:
  - name: go live
    at_day: 1.5
    action: activate
    select: {group: [meters, spares], state: provisioned, account: acme, fraction: 0.25}
  - at_day: 10
    action: set_traffic
    select: {report_group: east, count: 50}
    traffic: meter
    repeat: {every_days: 7, times: 4}
  - name: firmware update
    at_day: 20
    action: send_once
    profile: firmware
    spread_s: 43200
    repeat: {every_days: 30, times: 2}
  - at_day: 21
    action: send_once
    select: {group: meters}
    profile: daily
outputs:
  sessions: {mode: sample, sample_devices: 10, all_max_devices: 100, interim_time_s: 3600,
             interim_volume_bytes: 1000000}
  csv: true
"""


@pytest.mark.parametrize("text", [VALID, RICH], ids=["valid", "rich"])
def test_round_trip(tmp_path: Path, text: str) -> None:
    original = parse_scenario(text)
    dumped = scenario_to_yaml(original)
    (tmp_path / "dumped.yaml").write_text(dumped, encoding="utf-8")
    again = load_scenario(tmp_path / "dumped.yaml")
    assert again == original
    assert scenario_to_yaml(again) == dumped


def test_round_trip_of_overridden(tmp_path: Path) -> None:
    changed = apply_overrides(parse_scenario(RICH), seed=1, devices=7, days=20)
    assert [g.count for g in changed.fleet] == [6, 1]  # 6.3 / 0.7
    assert changed.actions[1].select.count == 1  # 50 x 7/1000 = 0.35, at least 1
    assert changed.actions[1].occurrence_days() == [10, 17]
    assert parse_scenario(scenario_to_yaml(changed)) == changed


def test_yaml_is_resolved_and_readable() -> None:
    dumped = scenario_to_yaml(parse_scenario(RICH))
    assert "start_date: '2024-02-29'\n" in dumped
    assert "description: |\n  Every kind of field.\n  Second line.\n" in dumped
    assert "sample_devices: 10\n" in dumped
    assert "uplink_fraction: 0.5\n" in dumped  # defaults are written out
    assert "keepalive_s: 1200\n" in dumped  # contextual defaults too
    assert "spread_s: 0.0\n" in dumped
    assert "max_attempts: 3\n" in dumped
    assert "sms_per_day" not in dumped
