"""Scenario files, the ``network`` section and each group's ``network``: PLMN spellings, defaults,
cross references, power-on processes and the network actions, with exact messages, key paths
and line numbers.

Most cases edit single lines of :data:`VALID` (line numbers in its comments) and compare the
complete list of reported issues, ``FILE:LINE: PATH: MESSAGE``.
"""

from __future__ import annotations

import pytest

from cellfleet.scenarios.loader import ScenarioError, parse_scenario, scenario_to_yaml
from cellfleet.scenarios.networks import MAX_AREAS, MAX_OPERATORS, PowerOn, UeTimers

VALID = """\
name: t                                                # 1
start_date: 2024-01-01                                 # 2
duration_days: 30                                      # 3
seed: 1                                                # 4
rate_plans:                                            # 5
  - name: plan_a                                       # 6
network:                                               # 7
  operators:                                           # 8
    - plmn: 262-01                                     # 9
      rats: [lte-m, nb-iot]                            # 10
      areas: [de]                                      # 11
      core: mme                                        # 12
    - plmn: 310-260                                    # 13
      areas: [us]                                      # 14
  cores:                                               # 15
    - {name: mme, dialogs: 10, service_time_s: 0.5}    # 16
  outages:                                             # 17
    - {at_day: 1, duration_s: 600, areas: [de]}        # 18
fleet:                                                 # 19
  - name: g1                                           # 20
    count: 3                                           # 21
    rate_plan: plan_a                                  # 22
    traffic: none                                      # 23
    network: {area: de}                                # 24
actions:                                               # 25
  - {at_day: 2, action: move, area: us}                # 26
"""

FULL = """\
name: full
start_date: 2024-01-01
duration_days: 30
seed: 7
rate_plans:
  - name: plan_a
network:
  operators:
    - plmn: 262-01
      name: Netz Eins
      country: DE
      zone: zone-1
      rats: [lte-m, nb-iot]
      areas: [de-north, de-south]
      roaming_partners: ["901-43", "310260"]
      core: mme-1
      t3412_s: 600
      t3402_s: 300
      t3346_s: 900
      reject_probability: 0.25
      reject_cause: 15
    - plmn: "310-260"
      rats: [lte-m]
      areas: [us]
    - plmn: " 232-001 "
      rats: [lte, lte-m]     # covers group c, which takes the defaults (lte-m, no area)
  cores:
    - {name: mme-1, dialogs: 20, service_time_s: 0.25, queue_limit: 100, max_registered: 5000}
    - {name: mme-2, dialogs: 1, service_time_s: 2}
  ue_timers: {t3410_s: 85, t3411_s: 20, t3402_s: 600}
  outages:
    - {name: north, at_day: 1.5, duration_s: 7200, areas: [de-north], reselect_s: 30}
    - {at_day: 2, duration_s: 60, operators: ["262-01"], areas: [de-south]}
    - {at_day: 3, duration_s: 60, operators: ["310260", "232001"]}
    - {at_day: 4, duration_s: 60, cores: [mme-1, mme-2]}
  unregistered_reports: queue
  queue_limit_reports: 48
fleet:
  - name: a
    count: 2
    rate_plan: plan_a
    traffic: none
    network:
      home_plmn: "901-43"
      preferred: ["310-260", "262-01"]
      rat: nb-iot
      area: de-north
      power_on: {process: constant, start_s: 10, rate_per_s: 2.5}
  - name: b
    count: 2
    rate_plan: plan_a
    traffic: none
    network:
      rat: lte
      power_on: {process: storm, start_s: 5, jitter_s: 30}
  - name: c
    count: 1
    rate_plan: plan_a
    traffic: none
actions:
  - {at_day: 1, action: move, area: us, select: {group: a}}
  - {at_day: 2, action: block_network, plmn: "262-01", select: {group: a}}
  - {at_day: 3, action: unblock_network, plmn: "26201"}
  - {at_day: 4, action: power_off, select: {group: b}}
  - {at_day: 5, action: power_on, spread_s: 600, select: {group: b}}
  - {at_day: 6, action: power_on}
"""


def edit(changes: dict[int, str], text: str = VALID) -> str:
    """``text`` with the given 1-based lines replaced (a replacement may hold several lines)."""
    lines = text.splitlines()
    for number, new in changes.items():
        lines[number - 1] = new
    return "\n".join(lines) + "\n"


def issues_of(text: str) -> list[str]:
    """The issues reported for ``text`` (file named ``s.yaml``)."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.yaml")
    return [str(issue) for issue in info.value.issues]


PLMN_FORMAT = "must be a PLMN: MCC (3 digits) and MNC (2-3 digits), e.g. '262-01', got"
PLMN_QUOTED = "must be a PLMN as a quoted string, e.g. '262-01', got"


# ---------------------------------------------------------------------------------------------
# Valid scenarios, normalization and defaults


def test_valid_scenario_loads() -> None:
    scenario = parse_scenario(VALID)
    assert scenario.network is not None
    assert [o.plmn for o in scenario.network.operators] == ["26201", "310260"]
    assert scenario.network.areas() == ["de", "us"]
    assert scenario.fleet[0].network is not None
    assert scenario.fleet[0].network.area == "de"
    assert scenario.actions[0].area == "us"


def test_full_network_section() -> None:
    scenario = parse_scenario(FULL)
    net = scenario.network
    assert net is not None
    assert [o.plmn for o in net.operators] == ["26201", "310260", "232001"]
    first = net.operators[0]
    assert (first.name, first.country, first.zone) == ("Netz Eins", "DE", "zone-1")
    assert first.rats == ["lte-m", "nb-iot"]
    assert first.areas == ["de-north", "de-south"]
    assert first.roaming_partners == ["90143", "310260"]
    assert first.core == "mme-1"
    assert (first.t3412_s, first.t3402_s, first.t3346_s) == (600.0, 300.0, 900.0)
    assert (first.reject_probability, first.reject_cause) == (0.25, 15)
    assert net.operators[2].areas is None
    assert net.areas() == ["de-north", "de-south", "us"]
    cores = [(c.name, c.dialogs, c.service_time_s, c.queue_limit, c.max_registered) for c in net.cores]
    assert cores == [
        ("mme-1", 20, 0.25, 100, 5000),
        ("mme-2", 1, 2.0, 0, None),
    ]
    assert net.ue_timers == UeTimers(t3410_s=85.0, t3411_s=20.0, t3402_s=600.0)
    assert [(o.name, o.operators, o.areas, o.cores, o.reselect_s) for o in net.outages] == [
        ("north", None, ["de-north"], None, 30.0),
        (None, ["26201"], ["de-south"], None, 0.0),
        (None, ["310260", "232001"], None, None, 0.0),
        (None, None, None, ["mme-1", "mme-2"], 0.0),
    ]
    assert (net.unregistered_reports, net.queue_limit_reports) == ("queue", 48)
    a, b, c = (g.network for g in scenario.fleet)
    assert a is not None and b is not None
    assert (a.home_plmn, a.preferred, a.rat, a.area) == (
        "90143", ["310260", "26201"], "nb-iot", "de-north"
    )
    assert a.power_on == PowerOn(process="constant", start_s=10.0, rate_per_s=2.5)
    assert (b.home_plmn, b.preferred, b.rat, b.area) == (None, [], "lte", None)
    assert b.power_on == PowerOn(process="storm", start_s=5.0, jitter_s=30.0)
    assert b.power_on.window_s is None
    assert c is None
    assert [(x.action, x.area, x.plmn, x.spread_s) for x in scenario.actions] == [
        ("move", "us", None, None),
        ("block_network", None, "26201", None),
        ("unblock_network", None, "26201", None),
        ("power_off", None, None, None),
        ("power_on", None, None, 600.0),
        ("power_on", None, None, 0.0),
    ]


@pytest.mark.parametrize(
    ("line", "spelling", "stored"),
    [
        (9, "262-01", "26201"),
        (9, "'262-01'", "26201"),
        (9, "'26201'", "26201"),
        (9, "262-001", "262001"),
        (9, "' 262-01 '", "26201"),
        (13, "310-260", "310260"),
        (13, "'310260'", "310260"),
        (13, "310-26", "31026"),
    ],
)
def test_plmn_normalization(line: int, spelling: str, stored: str) -> None:
    scenario = parse_scenario(edit({line: f"    - plmn: {spelling}"}))
    assert scenario.network is not None
    assert scenario.network.operators[(line - 9) // 4].plmn == stored


def test_plmn_references_match_whatever_the_spelling() -> None:
    text = edit(
        {
            24: "    network: {area: de, home_plmn: '262-01', preferred: ['310260', 262-01]}",
            26: "  - {at_day: 2, action: block_network, plmn: '310260'}\n"
            "  - {at_day: 3, action: unblock_network, plmn: 310-260}",
            18: "    - {at_day: 1, duration_s: 600, operators: ['26201'], areas: [de]}",
        }
    )
    scenario = parse_scenario(text)
    assert scenario.fleet[0].network is not None
    assert scenario.fleet[0].network.home_plmn == "26201"
    assert scenario.fleet[0].network.preferred == ["310260", "26201"]
    assert [a.plmn for a in scenario.actions] == ["310260", "310260"]
    assert scenario.network is not None
    assert scenario.network.outages[0].operators == ["26201"]


def test_defaults() -> None:
    scenario = parse_scenario(
        edit({14: "", 24: "    network: {}", 26: "  - {at_day: 2, action: power_on}"})
    )
    net = scenario.network
    assert net is not None
    op = net.operators[1]  # no areas (line 14 removed): covers the group, which has no area
    assert op.t3412_s == 3240.0  # 54 min
    assert (op.name, op.country, op.zone, op.rats, op.core) == ("", "", "home", ["lte-m"], None)
    assert (op.roaming_partners, op.t3402_s, op.t3346_s) == (None, None, None)
    assert (op.reject_probability, op.reject_cause) == (0.0, 17)
    timers = net.ue_timers
    assert (timers.t3410_s, timers.t3411_s, timers.t3402_s) == (15.0, 10.0, 720.0)
    assert net.unregistered_reports == "drop"
    assert net.queue_limit_reports == 100
    assert (net.cores[0].queue_limit, net.cores[0].max_registered) == (0, None)
    assert net.outages[0].reselect_s == 0.0
    group = scenario.fleet[0].network
    assert group is not None
    assert (group.home_plmn, group.preferred, group.rat, group.area) == (None, [], "lte-m", None)
    power_on = group.power_on
    assert (power_on.process, power_on.start_s, power_on.window_s) == ("uniform", 0.0, 60.0)
    assert (power_on.rate_per_s, power_on.jitter_s) == (None, 0.0)
    assert scenario.actions[0].spread_s == 0.0


@pytest.mark.parametrize("process", ["uniform", "beta"])
def test_power_on_window_default(process: str) -> None:
    scenario = parse_scenario(edit({24: f"    network: {{area: de, power_on: {{process: {process}}}}}"}))
    assert scenario.fleet[0].network is not None
    assert scenario.fleet[0].network.power_on.window_s == 60.0


def test_scenario_without_network() -> None:
    text = edit({7: "", 8: "", 9: "", 10: "", 11: "", 12: "", 13: "", 14: "", 15: "", 16: "",
                  17: "", 18: "", 24: "", 25: "", 26: ""})
    scenario = parse_scenario(text)
    assert scenario.network is None
    assert scenario.fleet[0].network is None


@pytest.mark.parametrize("text", [VALID, FULL], ids=["valid", "full"])
def test_round_trip(text: str) -> None:
    original = parse_scenario(text)
    dumped = scenario_to_yaml(original)
    assert parse_scenario(dumped) == original
    assert "plmn: '26201'\n" in dumped  # quoted: a bare 26201 would load as a number


# ---------------------------------------------------------------------------------------------
# PLMN spellings

PLMN_CASES = [
    pytest.param(
        {9: "    - plmn: 26-01"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_FORMAT} '26-01'"],
        id="mcc-two-digits",
    ),
    pytest.param(
        {9: "    - plmn: '2620'"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_FORMAT} '2620'"],
        id="four-digits",
    ),
    pytest.param(
        {9: "    - plmn: abc-de"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_FORMAT} 'abc-de'"],
        id="letters",
    ),
    pytest.param(
        {9: "    - plmn: 262-0001"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_FORMAT} '262-0001'"],
        id="mnc-four-digits",
    ),
    pytest.param(
        {9: "    - plmn: '262 01'"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_FORMAT} '262 01'"],
        id="space-separator",
    ),
    pytest.param(
        {9: "    - plmn: ''"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_FORMAT} ''"],
        id="empty",
    ),
    pytest.param(
        {9: "    - plmn: 262"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_QUOTED} 262"],
        id="int",
    ),
    pytest.param(
        {9: "    - plmn: 26201"},
        [f"s.yaml:9: network.operators[0].plmn: {PLMN_QUOTED} 26201"],
        id="unquoted-digits",
    ),
    pytest.param(
        {13: "    - plmn: [310, 260]"},
        [f"s.yaml:13: network.operators[1].plmn: {PLMN_QUOTED} [310, 260]"],
        id="list",
    ),
    pytest.param(
        {9: "    - name: x"},
        ["s.yaml:9: network.operators[0].plmn: required key missing"],
        id="missing",
    ),
    pytest.param(
        {10: "      rats: [lte-m, nb-iot]\n      roaming_partners: ['901-43', 90143, '9014']"},
        [
            f"s.yaml:11: network.operators[0].roaming_partners[1]: {PLMN_QUOTED} 90143",
            f"s.yaml:11: network.operators[0].roaming_partners[2]: {PLMN_FORMAT} '9014'",
        ],
        id="roaming-partners",
    ),
    pytest.param(
        {24: "    network: {area: de, home_plmn: '90-143', preferred: [262-01, 31026]}"},
        [
            f"s.yaml:24: fleet[0].network.home_plmn: {PLMN_FORMAT} '90-143'",
            f"s.yaml:24: fleet[0].network.preferred[1]: {PLMN_QUOTED} 31026",
        ],
        id="group-plmns",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, operators: [26201]}"},
        [f"s.yaml:18: network.outages[0].operators[0]: {PLMN_QUOTED} 26201"],
        id="outage-plmn",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: block_network, plmn: x}"},
        [f"s.yaml:26: actions[0].plmn: {PLMN_FORMAT} 'x'"],
        id="action-plmn",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), PLMN_CASES)
def test_plmn_errors(changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(edit(changes)) == expected


def test_issue_fields() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(edit({13: "    - plmn: 31-0260"}), "s.yaml")
    [issue] = info.value.issues
    assert (issue.file, issue.line, issue.path) == ("s.yaml", 13, "network.operators[1].plmn")
    assert issue.message == f"{PLMN_FORMAT} '31-0260'"


# ---------------------------------------------------------------------------------------------
# The network section: duplicates, references, outages, limits

NETWORK_CASES = [
    pytest.param(
        {13: "    - plmn: '26201'"},
        ["s.yaml:13: network.operators[1].plmn: duplicate PLMN '26201' (first at operators[0])"],
        id="duplicate-plmn",
    ),
    pytest.param(
        {16: "    - {name: mme, dialogs: 10, service_time_s: 0.5}\n"
             "    - {name: mme, dialogs: 1, service_time_s: 1}"},
        ["s.yaml:17: network.cores[1].name: duplicate core 'mme' (first at cores[0])"],
        id="duplicate-core",
    ),
    pytest.param(
        {12: "      core: hss"},
        ["s.yaml:12: network.operators[0].core: unknown core 'hss' (known: mme)"],
        id="unknown-core",
    ),
    pytest.param(
        {15: "", 16: ""},
        ["s.yaml:12: network.operators[0].core: unknown core 'mme' (known: none defined)"],
        id="core-without-cores",
    ),
    pytest.param(
        {8: "  operators: []", 9: "", 10: "", 11: "", 12: "", 13: "", 14: ""},
        ["s.yaml:8: network.operators: must list at least 1 entry, got an empty list"],
        id="no-operators",
    ),
    pytest.param(
        {7: "network: {}", 8: "", 9: "", 10: "", 11: "", 12: "", 13: "", 14: "", 15: "", 16: "",
         17: "", 18: ""},
        ["s.yaml:7: network.operators: required key missing"],
        id="operators-missing",
    ),
    pytest.param(
        {10: "      rats: []"},
        ["s.yaml:10: network.operators[0].rats: must list at least 1 entry, got an empty list"],
        id="no-rats",
    ),
    pytest.param(
        {10: "      rats: [lte-m, 5g]"},
        [
            "s.yaml:10: network.operators[0].rats[1]: must be one of lte-m, nb-iot, lte, gsm, "
            "umts, nr, got '5g'"
        ],
        id="unknown-rat",
    ),
    pytest.param(
        {11: "      areas: []"},
        ["s.yaml:11: network.operators[0].areas: must list at least 1 entry, got an empty list"],
        id="operator-areas-empty",
    ),
    pytest.param(
        {12: "      core: mme\n      reject_probability: 1.5\n      reject_cause: 11"},
        ["s.yaml:13: network.operators[0].reject_probability: must be at most 1, got 1.5"],
        id="reject-probability",
    ),
    pytest.param(
        {12: "      core: mme\n      reject_cause: 22"},
        [
            "s.yaml:13: network.operators[0].reject_cause: must be one of 3, 6, 7, 8, 11, 12, "
            "13, 14, 15, 17, 111, got 22"
        ],
        id="reject-cause",
    ),
    pytest.param(
        {16: "    - {name: mme, dialogs: 0, service_time_s: 0, queue_limit: -1}"},
        [
            "s.yaml:16: network.cores[0].dialogs: must be a positive integer, got 0",
            "s.yaml:16: network.cores[0].service_time_s: must be greater than 0, got 0",
            "s.yaml:16: network.cores[0].queue_limit: must be a non-negative integer, got -1",
        ],
        id="core-bounds",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600}"},
        ["s.yaml:18: network.outages[0]: give operators, areas or cores (what goes down)"],
        id="outage-of-nothing",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, operators: []}"},
        [
            "s.yaml:18: network.outages[0].operators: must list at least 1 entry, "
            "got an empty list"
        ],
        id="outage-empty-operators",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, areas: [], cores: []}"},
        [
            "s.yaml:18: network.outages[0].areas: must list at least 1 entry, got an empty list",
            "s.yaml:18: network.outages[0].cores: must list at least 1 entry, got an empty list",
        ],
        id="outage-empty-areas-and-cores",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, areas: [de], cores: [mme]}"},
        [
            "s.yaml:18: network.outages[0].cores: a core outage cannot be combined with "
            "operators or areas; use two outages"
        ],
        id="outage-cores-and-areas",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, operators: ['262-01'], cores: [mme]}"},
        [
            "s.yaml:18: network.outages[0].cores: a core outage cannot be combined with "
            "operators or areas; use two outages"
        ],
        id="outage-cores-and-operators",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, operators: ['262-01', '262-02']}"},
        [
            "s.yaml:18: network.outages[0].operators[1]: unknown PLMN '26202' "
            "(known: 26201, 310260)"
        ],
        id="outage-unknown-plmn",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, areas: [de, fr]}"},
        ["s.yaml:18: network.outages[0].areas[1]: unknown area 'fr' (known: de, us)"],
        id="outage-unknown-area",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, cores: [mme, hss]}"},
        ["s.yaml:18: network.outages[0].cores[1]: unknown core 'hss' (known: mme)"],
        id="outage-unknown-core",
    ),
    pytest.param(
        {15: "", 16: "", 12: "", 18: "    - {at_day: 1, duration_s: 600, cores: [mme]}"},
        ["s.yaml:18: network.outages[0].cores[0]: unknown core 'mme' (known: none defined)"],
        id="outage-core-without-cores",
    ),
    pytest.param(
        {11: "", 14: "", 24: "    network: {}", 26: "  - {at_day: 2, action: power_off}"},
        ["s.yaml:18: network.outages[0].areas[0]: unknown area 'de' (known: none defined)"],
        id="outage-area-without-areas",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, operators: ['262-01'], areas: [us]}"},
        [
            "s.yaml:18: network.outages[0].operators[0]: PLMN '26201' covers none of the "
            "outage's areas (it covers: de)",
            "s.yaml:18: network.outages[0].areas[0]: area 'us' is covered by none of the "
            "outage's operators",
        ],
        id="outage-operator-outside-its-areas",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: 600, operators: ['262-01'], areas: [de, us]}"},
        [
            "s.yaml:18: network.outages[0].areas[1]: area 'us' is covered by none of the "
            "outage's operators",
        ],
        id="outage-area-no-listed-operator-covers",
    ),
    pytest.param(
        {18: "    - {at_day: 1, duration_s: -1, operators: ['262-01'], reselect_s: -5}"},
        [
            "s.yaml:18: network.outages[0].duration_s: must be greater than 0, got -1",
            "s.yaml:18: network.outages[0].reselect_s: must not be negative, got -5",
        ],
        id="outage-bounds",
    ),
    pytest.param(
        {17: "  outages:\n  unregistered_reports: keep\n  queue_limit_reports: 0", 18: ""},
        [
            "s.yaml:17: network.outages: must be a list, got null",
            "s.yaml:18: network.unregistered_reports: must be one of drop, queue, got 'keep'",
            "s.yaml:19: network.queue_limit_reports: must be a positive integer, got 0",
        ],
        id="reports-and-null-outages",
    ),
    pytest.param(
        {
            16: "    - {name: mme, dialogs: 10, service_time_s: 0.5}\n"
            "  ue_timers: {t3410_s: 0, t3412_s: 5}"
        },
        [
            "s.yaml:17: network.ue_timers.t3410_s: must be greater than 0, got 0",
            "s.yaml:17: network.ue_timers: unknown key 't3412_s' (did you mean 't3411_s'?)",
        ],
        id="ue-timers",
    ),
    pytest.param(
        {8: "  operator:"},
        [
            "s.yaml:7: network.operators: required key missing",
            "s.yaml:8: network: unknown key 'operator' (did you mean 'operators'?)",
        ],
        id="unknown-network-key",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), NETWORK_CASES)
def test_network_errors(changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(edit(changes)) == expected


def test_outage_over_an_operator_covering_everywhere_is_fine() -> None:
    text = edit(
        {
            14: "",
            18: "    - {at_day: 1, duration_s: 600, operators: ['310-260'], areas: [de]}",
            26: "  - {at_day: 2, action: power_off}",
        }
    )
    scenario = parse_scenario(text)
    assert scenario.network is not None
    assert scenario.network.operators[1].areas is None
    assert scenario.network.outages[0].operators == ["310260"]


def operators_text(n: int) -> str:
    """A ``network`` section with ``n`` operators (no areas) and a group using it."""
    ops = "".join(f"    - {{plmn: '{200 + i // 100:03d}-{i % 100:02d}'}}\n" for i in range(n))
    return (
        "name: t\nstart_date: 2024-01-01\nduration_days: 1\nseed: 1\n"  # lines 1-4
        "rate_plans: [{name: p}]\n"  # 5
        "fleet: [{name: g, count: 1, rate_plan: p, traffic: none, network: {}}]\n"  # 6
        "network:\n"  # 7
        "  operators:\n" + ops  # 8, then one a line from 9
    )


def test_at_most_64_operators() -> None:
    assert MAX_OPERATORS == 64
    scenario = parse_scenario(operators_text(64))
    assert scenario.network is not None
    assert len(scenario.network.operators) == 64
    assert scenario.network.operators[-1].plmn == "20063"
    assert issues_of(operators_text(65)) == [
        "s.yaml:8: network.operators: at most 64 operators, got 65"
    ]


def areas_text(n: int) -> str:
    """A ``network`` section whose two operators name ``n`` areas between them."""
    first = ", ".join(f"a{i}" for i in range(min(n, 40)))
    second = ", ".join(f"a{i}" for i in range(30, n))  # a30..a39 twice
    return (
        "name: t\nstart_date: 2024-01-01\nduration_days: 1\nseed: 1\n"  # lines 1-4
        "rate_plans: [{name: p}]\n"  # 5
        "fleet: [{name: g, count: 1, rate_plan: p, traffic: none, network: {area: a0}}]\n"  # 6
        "network:\n"  # 7
        "  operators:\n"  # 8
        f"    - {{plmn: '262-01', areas: [{first}]}}\n"  # 9
        f"    - {{plmn: '262-02', areas: [{second}]}}\n"  # 10
    )


def test_at_most_63_areas() -> None:
    assert MAX_AREAS == 63
    scenario = parse_scenario(areas_text(63))
    assert scenario.network is not None
    assert len(scenario.network.areas()) == 63
    assert issues_of(areas_text(65)) == [
        # a63 is item 33 of the second operator's list (a30, a31, ...)
        "s.yaml:10: network.operators[1].areas[33]: at most 63 areas in all, 'a63' is area 64 "
        "of 65"
    ]


# ---------------------------------------------------------------------------------------------
# A fleet group's network

GROUP_CASES = [
    pytest.param(
        {24: "    network: {area: de, preferred: ['310-260', '262-02']}"},
        [
            "s.yaml:24: fleet[0].network.preferred[1]: unknown PLMN '26202' "
            "(known: 26201, 310260)"
        ],
        id="unknown-preferred",
    ),
    pytest.param(
        {24: "    network: {area: fr}"},
        ["s.yaml:24: fleet[0].network.area: unknown area 'fr' (known: de, us)"],
        id="unknown-area",
    ),
    pytest.param(
        {11: "", 14: "", 26: "  - {at_day: 2, action: power_off}",
         18: "    - {at_day: 1, duration_s: 600, cores: [mme]}"},
        ["s.yaml:24: fleet[0].network.area: unknown area 'de' (known: none defined)"],
        id="area-without-areas",
    ),
    pytest.param(
        {24: "    network: {area: de, rat: gsm}"},
        ["s.yaml:24: fleet[0].network.rat: no operator offers 'gsm'"],
        id="rat-not-offered",
    ),
    pytest.param(
        {24: "    network: {area: de, rat: 3g}"},
        [
            "s.yaml:24: fleet[0].network.rat: must be one of lte-m, nb-iot, lte, gsm, umts, nr, "
            "got '3g'"
        ],
        id="unknown-rat",
    ),
    pytest.param(
        {24: "    network: {area: fr, rat: nr, preferred: ['262-09']}"},
        [
            "s.yaml:24: fleet[0].network.preferred[0]: unknown PLMN '26209' "
            "(known: 26201, 310260)",
            "s.yaml:24: fleet[0].network.area: unknown area 'fr' (known: de, us)",
            "s.yaml:24: fleet[0].network.rat: no operator offers 'nr'",
        ],
        id="all-at-once",
    ),
    pytest.param(
        {24: "    network:\n      area: de\n      colour: red"},
        [
            "s.yaml:26: fleet[0].network: unknown key 'colour' (allowed: home_plmn, preferred, "
            "rat, area, power_on, psm, edrx)"
        ],
        id="unknown-key",
    ),
    # power-on processes
    pytest.param(
        {24: "    network: {power_on: {process: constant}}"},
        ["s.yaml:24: fleet[0].network.power_on.rate_per_s: required for process 'constant'"],
        id="constant-without-rate",
    ),
    pytest.param(
        {24: "    network:\n      power_on:\n        process: poisson"},
        ["s.yaml:25: fleet[0].network.power_on.rate_per_s: required for process 'poisson'"],
        id="poisson-without-rate",
    ),
    pytest.param(
        {24: "    network: {power_on: {process: uniform, rate_per_s: 5}}"},
        [
            "s.yaml:24: fleet[0].network.power_on.rate_per_s: only for processes constant and "
            "poisson, not 'uniform'"
        ],
        id="rate-with-uniform",
    ),
    pytest.param(
        {24: "    network: {power_on: {rate_per_s: 5}}"},
        [
            "s.yaml:24: fleet[0].network.power_on.rate_per_s: only for processes constant and "
            "poisson, not 'uniform'"
        ],
        id="rate-with-default-process",
    ),
    pytest.param(
        {24: "    network: {power_on: {process: storm, window_s: 5}}"},
        [
            "s.yaml:24: fleet[0].network.power_on.window_s: only for processes uniform and "
            "beta, not 'storm'"
        ],
        id="window-with-storm",
    ),
    pytest.param(
        {24: "    network:\n      power_on:\n        process: constant\n        rate_per_s: 1\n"
             "        window_s: 10"},
        [
            "s.yaml:28: fleet[0].network.power_on.window_s: only for processes uniform and "
            "beta, not 'constant'"
        ],
        id="window-with-constant",
    ),
    pytest.param(
        {24: "    network: {power_on: {process: poisson, rate_per_s: 1, jitter_s: 5}}"},
        ["s.yaml:24: fleet[0].network.power_on.jitter_s: only for process storm, not 'poisson'"],
        id="jitter-with-poisson",
    ),
    pytest.param(
        {24: "    network: {power_on: {process: beta, window_s: 0, jitter_s: 1}}"},
        [
            "s.yaml:24: fleet[0].network.power_on.window_s: must be greater than 0, got 0",
        ],
        id="zero-window",
    ),
    pytest.param(
        {24: "    network: {power_on: {process: storm, rate_per_s: 2, window_s: 3}}"},
        [
            "s.yaml:24: fleet[0].network.power_on.rate_per_s: only for processes constant and "
            "poisson, not 'storm'",
            "s.yaml:24: fleet[0].network.power_on.window_s: only for processes uniform and "
            "beta, not 'storm'",
        ],
        id="storm-with-rate-and-window",
    ),
    pytest.param(
        {24: "    network: {power_on: {process: burst}}"},
        [
            "s.yaml:24: fleet[0].network.power_on.process: must be one of constant, poisson, "
            "uniform, beta, storm, got 'burst'"
        ],
        id="unknown-process",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), GROUP_CASES)
def test_group_errors(changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(edit(changes)) == expected


def test_group_network_without_scenario_network() -> None:
    text = edit({7: "", 8: "", 9: "", 10: "", 11: "", 12: "", 13: "", 14: "", 15: "", 16: "",
                 17: "", 18: "", 24: "    network: {rat: nb-iot}", 25: "", 26: ""})
    assert issues_of(text) == ["s.yaml:24: fleet[0].network: needs the scenario's network section"]


# ---------------------------------------------------------------------------------------------
# Network actions

ACTION_CASES = [
    pytest.param(
        {26: "  - {at_day: 2, action: move}"},
        ["s.yaml:26: actions[0].area: required for action 'move'"],
        id="move-without-area",
    ),
    pytest.param(
        {26: "  - at_day: 2\n    action: move"},
        ["s.yaml:26: actions[0].area: required for action 'move'"],
        id="move-without-area-block",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: power_off, area: de}"},
        ["s.yaml:26: actions[0].area: only allowed with action 'move', not 'power_off'"],
        id="area-with-power-off",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: activate, area: de}"},
        ["s.yaml:26: actions[0].area: only allowed with action 'move', not 'activate'"],
        id="area-with-lifecycle-action",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: block_network}"},
        ["s.yaml:26: actions[0].plmn: required for action 'block_network'"],
        id="block-without-plmn",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: unblock_network}"},
        ["s.yaml:26: actions[0].plmn: required for action 'unblock_network'"],
        id="unblock-without-plmn",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: move, area: de, plmn: '262-01'}"},
        [
            "s.yaml:26: actions[0].plmn: only allowed with action 'block_network' or "
            "'unblock_network', not 'move'"
        ],
        id="plmn-with-move",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: block_network, plmn: '262-01', area: de}"},
        ["s.yaml:26: actions[0].area: only allowed with action 'move', not 'block_network'"],
        id="area-with-block",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: move, area: fr}"},
        ["s.yaml:26: actions[0].area: unknown area 'fr' (known: de, us)"],
        id="unknown-area",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: block_network, plmn: '262-02'}"},
        ["s.yaml:26: actions[0].plmn: unknown PLMN '26202' (known: 26201, 310260)"],
        id="unknown-plmn-block",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: unblock_network, plmn: '310-26'}"},
        ["s.yaml:26: actions[0].plmn: unknown PLMN '31026' (known: 26201, 310260)"],
        id="unknown-plmn-unblock",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: move, area: de, spread_s: 60}"},
        [
            "s.yaml:26: actions[0].spread_s: only allowed with actions 'send_once' and "
            "'power_on', not 'move'"
        ],
        id="spread-with-move",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: power_off, spread_s: 60}"},
        [
            "s.yaml:26: actions[0].spread_s: only allowed with actions 'send_once' and "
            "'power_on', not 'power_off'"
        ],
        id="spread-with-power-off",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: power_on, spread_s: -1}"},
        ["s.yaml:26: actions[0].spread_s: must not be negative, got -1"],
        id="negative-spread",
    ),
    pytest.param(
        {26: "  - {at_day: 2, action: move, area: us, select: {group: g2}}"},
        ["s.yaml:26: actions[0].select.group: unknown fleet group 'g2' (known: g1)"],
        id="unknown-group",
    ),
    pytest.param(
        {26: "  - {at_day: 30, action: power_off}"},
        [
            "s.yaml:26: actions[0].at_day: must be before the end of the run (duration_days: 30), "
            "got 30"
        ],
        id="after-the-run",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), ACTION_CASES)
def test_action_errors(changes: dict[int, str], expected: list[str]) -> None:
    assert issues_of(edit(changes)) == expected


NO_NETWORK = {7: "", 8: "", 9: "", 10: "", 11: "", 12: "", 13: "", 14: "", 15: "", 16: "",
              17: "", 18: "", 24: ""}


@pytest.mark.parametrize(
    ("action", "line"),
    [
        ("{at_day: 2, action: move, area: us}", "'move'"),
        ("{at_day: 2, action: block_network, plmn: '262-01'}", "'block_network'"),
        ("{at_day: 2, action: unblock_network, plmn: '262-01'}", "'unblock_network'"),
        ("{at_day: 2, action: power_off}", "'power_off'"),
        ("{at_day: 2, action: power_on, spread_s: 10}", "'power_on'"),
    ],
)
def test_network_action_without_network(action: str, line: str) -> None:
    text = edit({**NO_NETWORK, 26: f"  - {action}"})
    assert issues_of(text) == [
        f"s.yaml:26: actions[0].action: {line} needs the scenario's network section"
    ]


def test_spread_s_allowed_for_power_on() -> None:
    scenario = parse_scenario(
        edit({26: "  - {at_day: 2, action: power_on, spread_s: 900}\n"
                  "  - {at_day: 3, action: power_on}"})
    )
    assert [(a.action, a.spread_s) for a in scenario.actions] == [
        ("power_on", 900.0),
        ("power_on", 0.0),
    ]
    # the resolved scenario shows the default; other network actions have none
    moved = parse_scenario(VALID)
    assert moved.actions[0].spread_s is None


def test_psm_request_and_grant() -> None:
    scenario = parse_scenario(edit({24: "    network: {area: de, psm: {t3324_s: 60, t3412_ext_s: 86400}}"}))
    request = scenario.fleet[0].network.psm
    assert (request.t3324_s, request.t3412_ext_s) == (60.0, 86400.0)
    assert scenario.network.operators[0].psm is True
    assert issues_of(edit({24: "    network: {area: de, psm: {t3324_s: 60}}"})) == [
        "s.yaml:24: fleet[0].network.psm.t3412_ext_s: required key missing"
    ]
